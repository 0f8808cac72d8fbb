// A hub restored from a backup takes back from the sites what it wrote after the backup and
// lost (docs/protocol.md "Backups"): each site's stream as the site applied it, and, from
// the case events those directives carried, the hub's own log. Until every site has
// answered, the hub writes to no stream and not to its own log, so it never reuses a
// sequence number a site holds with other content.
#include <spdlog/spdlog.h>


#include "tongban/hub/hub_store.h"
#include "tongban/shared/validation.h"
#include "tongban/sync/batch.h"
#include "wire.pb.h"

namespace tongban::hub {

namespace {

std::string joined(const std::set<std::string>& sites) {
  std::string out;
  for (const std::string& s : sites) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Status HubStore::writable_locked() const {
  if (awaited_.empty()) return Status::Ok();
  const std::string sites = joined(awaited_);
  return Status::Make(StatusCode::kUnavailable, "hub_restoring",
                      "区级中心刚从备份恢复，正在等待站点回传数据（尚缺：" + sites +
                          "），暂不能办理此操作",
                      "the hub was restored from a backup and waits for sites to return what "
                      "it lost (still: " + sites + ")");
}

Result<sync::Event> HubStore::extend_locked(const std::string& origin, const std::string& case_id,
                                           const std::string& kind, const std::string& actor,
                                           Timestamp ts, std::string body, const SigningKey& key,
                                           uint64_t after) {
  TB_RETURN_IF_ERROR(writable_locked());
  return replica_.extend(origin, case_id, kind, actor, ts, std::move(body), key, after);
}

Status HubStore::extend_run_locked(const std::string& origin, std::vector<sync::Event>& drafts) {
  TB_RETURN_IF_ERROR(writable_locked());
  return replica_.extend_run(origin, drafts, key_);
}

Status HubStore::await_returns() {
  // Every provisioned site (one with a key in site-config): only those can have synced.
  auto provisioned = load_public_keys(district_.dir, district_.site_ids());
  if (!provisioned.ok()) return provisioned.status();
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto insert = db_->cached("INSERT OR IGNORE INTO return_awaited(site) VALUES(?1)");
  if (!insert.ok()) return insert.status();
  for (const auto& [site, key] : *provisioned) TB_RETURN_IF_ERROR(insert->bind(1, site).run());
  TB_RETURN_IF_ERROR(tx.commit());
  for (const auto& [site, key] : *provisioned) awaited_.insert(site);
  publish_awaited_locked();
  return Status::Ok();
}

// Read from a snapshot, never under the store's lock: healthz and the sync loop must not
// wait for the transaction that finishes a restore.
bool HubStore::awaits_return(const std::string& site) {
  std::lock_guard lock(awaited_snapshot_mu_);
  return awaited_snapshot_.count(site) > 0;
}

std::vector<std::string> HubStore::awaited_returns() {
  std::lock_guard lock(awaited_snapshot_mu_);
  return {awaited_snapshot_.begin(), awaited_snapshot_.end()};
}

Result<bool> HubStore::returned(const std::string& site, const std::vector<sync::Event>& run,
                                const Signature& signature) {
  std::lock_guard lock(mu_);
  if (!awaited_.count(site)) return false;  // answered before, or waived meanwhile
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  uint64_t own = 0;
  auto log_head = replica_.head(district_.hub_id);
  if (!log_head.ok()) return log_head.status();
  if (!run.empty()) {
    const std::string stream = sync::stream_origin(site);
    auto held = replica_.head(stream);
    if (!held.ok()) return held.status();
    if (run.front().origin != stream || run.front().seq != held->seq + 1 ||
        run.front().prev_hash != held->hash)
      return Status::Conflict("chain_moved", "回传的指令流与区级中心持有的不衔接",
                              "the stream " + site + " returned does not follow the held one");
    TB_RETURN_IF_ERROR(replica_.append(run, signature));
    auto keep = db_->cached("INSERT OR IGNORE INTO return_recovered(seq, event) VALUES(?1, ?2)");
    if (!keep.ok()) return keep.status();
    auto catalog = db_->cached(
        "INSERT OR IGNORE INTO catalogs(version, toml, published_ts, published_by)"
        " VALUES(?1,?2,?3,?4)");
    if (!catalog.ok()) return catalog.status();
    for (const sync::Event& e : run) {
      if (e.kind == "hub.catalog_version") {  // a catalog published after the backup
        pb::CatalogVersion v;
        if (!v.ParseFromString(e.body)) continue;
        TB_RETURN_IF_ERROR(catalog->bind(1, int64_t{v.version()})
                               .bind(2, v.catalog_toml())
                               .bind(3, e.ts)
                               .bind(4, e.actor)
                               .run());
        continue;
      }
      if (e.kind != "hub.case_events") continue;
      pb::CaseEvents body;
      if (!body.ParseFromString(e.body)) continue;
      // The hub signed the directive over the stream's chain, so each of its own events in
      // it is the one it wrote, if it hashes to what it claims.
      for (const pb::WireEvent& w : body.events()) {
        sync::Event ev;
        if (w.origin() != district_.hub_id || w.seq() <= log_head->seq ||
            !sync::from_wire(w, ev) || sync::compute_event_hash(ev) != ev.hash)
          continue;
        TB_RETURN_IF_ERROR(keep->bind(1, static_cast<int64_t>(ev.seq))
                               .bind(2, w.SerializeAsString())
                               .run());
        if (db_->changes() > 0) {
          ++own;
          continue;
        }
        // Held already from another site: it must be the same event.
        auto same = db_->cached("SELECT event FROM return_recovered WHERE seq=?1");
        if (!same.ok()) return same.status();
        same->bind(1, static_cast<int64_t>(ev.seq));
        auto row = same->step();
        if (!row.ok()) return row.status();
        pb::WireEvent kept;
        if (*row && kept.ParseFromString(same->blob_at(0)) && kept.hash() != w.hash())
          spdlog::error("hub: sites returned two different events {} of the hub's log (one "
                        "from {}): the first is kept; a site waived earlier and not restored "
                        "from the hub?",
                        ev.seq, site);
        same->reset();
      }
    }
  }
  TB_RETURN_IF_ERROR(stop_awaiting_locked(tx, site));
  spdlog::info("hub: site {} answered the restore: {} directive(s) returned, {} event(s) of the "
               "hub's log found in them; {} site(s) still awaited",
               site, run.size(), own, awaited_.size());
  streams_changed();
  return true;
}

Status HubStore::waive_return(const std::string& site, const std::string& reason,
                              const std::string& by) {
  TB_RETURN_IF_ERROR(validate_required_text(reason, "不再等待该站点的原因", "reason", 500, true));
  std::lock_guard lock(mu_);
  if (!awaited_.count(site))
    return Status::NotFound("not_awaited", "区级中心并未等待该站点回传数据",
                            "the hub does not wait for site " + site);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto record = db_->cached(
      "INSERT INTO return_waivers(site, username, reason, ts) VALUES(?1,?2,?3,?4)");
  if (!record.ok()) return record.status();
  TB_RETURN_IF_ERROR(record->bind(1, site).bind(2, by).bind(3, reason).bind(4, clock_.now()).run());
  TB_RETURN_IF_ERROR(stop_awaiting_locked(tx, site));
  spdlog::warn("hub: {} stopped waiting for site {} to return what the restored hub lost; what "
               "only that site held of the hub's writes is not recovered",
               by, site);
  streams_changed();
  return Status::Ok();
}

Status HubStore::stop_awaiting_locked(Transaction& tx, const std::string& site) {
  auto forget = db_->cached("DELETE FROM return_awaited WHERE site=?1");
  if (!forget.ok()) return forget.status();
  TB_RETURN_IF_ERROR(forget->bind(1, site).run());
  // Out of the set at once, so the last site's finish may write; back in if anything fails
  // (the transaction rolls back: the site is awaited on disk, and nothing may be written).
  awaited_.erase(site);
  Status st = awaited_.empty() ? finish_returns_locked() : Status::Ok();
  if (st.ok()) st = tx.commit();
  if (!st.ok()) awaited_.insert(site);
  publish_awaited_locked();  // what healthz and the sync loop read: only what is durable
  return st;
}

void HubStore::publish_awaited_locked() {
  std::lock_guard lock(awaited_snapshot_mu_);
  awaited_snapshot_ = awaited_;
}

Status HubStore::finish_returns_locked() {
  // The hub's own events the sites returned, after what the backup held, in order. One held
  // by no site (its directives lost with the hub) leaves a hole; the log goes on after the
  // newest found, so no sequence number a site holds is ever written again.
  auto held = replica_.head(district_.hub_id);
  if (!held.ok()) return held.status();
  auto rows = db_->prepare("SELECT event FROM return_recovered WHERE seq>?1 ORDER BY seq");
  if (!rows.ok()) return rows.status();
  rows->bind(1, static_cast<int64_t>(held->seq));
  auto wires = collect_rows<std::string>(*rows, [](const Stmt& r) { return r.blob_at(0); });
  if (!wires.ok()) return wires.status();
  std::vector<sync::Event> own;
  uint64_t holes = 0;
  for (const std::string& bytes : *wires) {
    pb::WireEvent w;
    sync::Event e;
    if (!w.ParseFromString(bytes) || !sync::from_wire(w, e))
      return Status::Corruption("a recovered event of the hub's log does not parse");
    const uint64_t expected = own.empty() ? held->seq + 1 : own.back().seq + 1;
    const Hash32& prev = own.empty() ? held->hash : own.back().hash;
    if (e.seq == expected && e.prev_hash != prev)
      spdlog::error("hub: the recovered event {} of the hub's log does not link to the one "
                    "before it: two histories of the hub (a site waived earlier and not "
                    "restored from the hub?)",
                    e.seq);
    holes += e.seq - expected;
    own.push_back(std::move(e));
  }
  if (!own.empty()) {
    const sync::Event& last = own.back();
    const Signature sig = key_.sign(sync::chain_head_message(
        district_.hub_id, sync::ChainHead{last.seq, last.lamport, last.hash}));
    std::map<std::string, CaseState> moved;
    TB_RETURN_IF_ERROR(append_locked(own, sig, moved));
  }
  if (holes > 0)
    spdlog::error("hub: {} event(s) of the hub's own log after the backup were held by no site "
                  "and are lost; its log goes on after seq {} (verify-log reports them missing)",
                  holes, own.back().seq);
  // What the hub does about the runs stored while it waited, now that it may write.
  auto deferred = db_->prepare("SELECT origin, first_seq, last_seq FROM return_deferred ORDER BY id");
  if (!deferred.ok()) return deferred.status();
  // One run at a time, so days of deferred events never sit in memory at once.
  size_t runs = 0;
  for (;; ++runs) {
    auto row = deferred->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint64_t first = static_cast<uint64_t>(deferred->int_at(1));
    const uint64_t last = static_cast<uint64_t>(deferred->int_at(2));
    auto run = replica_.read(deferred->text_at(0), first, static_cast<size_t>(last - first + 1));
    if (!run.ok()) return run.status();
    std::map<std::string, CaseState> moved;
    std::set<std::string> seen;  // each case replayed once per run
    for (const sync::Event& e : *run) {
      if (!seen.insert(e.case_id).second) continue;
      auto s = case_state_locked(e.case_id);
      if (!s.ok()) return s.status();
      if (!s->moves.empty()) moved.emplace(e.case_id, std::move(*s));
    }
    TB_RETURN_IF_ERROR(react_locked({&*run}, moved));
  }
  deferred->reset();
  TB_RETURN_IF_ERROR(db_->exec("DELETE FROM return_recovered; DELETE FROM return_deferred"));
  spdlog::info("hub: every site answered the restore: {} event(s) of its own log recovered, {} "
               "run(s) of sites' events reacted to; it writes again",
               own.size(), runs);
  return Status::Ok();
}

Status HubStore::defer_reactions_locked(const std::vector<const std::vector<sync::Event>*>& runs) {
  auto insert = db_->cached(
      "INSERT INTO return_deferred(origin, first_seq, last_seq) VALUES(?1,?2,?3)");
  if (!insert.ok()) return insert.status();
  for (const auto* run : runs)
    if (!run->empty())
      TB_RETURN_IF_ERROR(insert->bind(1, run->front().origin)
                             .bind(2, static_cast<int64_t>(run->front().seq))
                             .bind(3, static_cast<int64_t>(run->back().seq))
                             .run());
  return Status::Ok();
}

Status HubStore::react_or_defer_locked(const std::vector<const std::vector<sync::Event>*>& runs,
                                       const std::map<std::string, CaseState>& moved) {
  return awaited_.empty() ? react_locked(runs, moved) : defer_reactions_locked(runs);
}

}  // namespace tongban::hub
