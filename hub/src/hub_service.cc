#include "tongban/hub/hub_service.h"

#include <spdlog/spdlog.h>

#include <set>

#include "tongban/shared/staff.h"
#include "tongban/sync/batch.h"
#include "wire.pb.h"

namespace tongban::hub {

using sync::stream_origin;

namespace {

const std::string kHubSchema = R"sql(
  CREATE TABLE site_state(
    site TEXT PRIMARY KEY, last_contact_ts INTEGER NOT NULL, head_seq INTEGER NOT NULL,
    head_ts INTEGER NOT NULL, delivered_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE catalogs(
    version INTEGER PRIMARY KEY, toml TEXT NOT NULL, published_ts INTEGER NOT NULL,
    published_by TEXT NOT NULL);
)sql";

}  // namespace

HubService::HubService(const District& district, std::unique_ptr<Db> db, const SigningKey& key,
                       const Clock& clock)
    : district_(district),
      db_(std::move(db)),
      key_(key),
      clock_(clock),
      replica_(*db_),
      index_(*db_) {}

Result<std::unique_ptr<HubService>> HubService::open(const District& district,
                                                     const std::filesystem::path& data_dir,
                                                     const SigningKey& key, const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto db = Db::open(data_dir / kDbFile);
  if (!db.ok()) return db.status();
  auto owned = std::make_unique<Db>(std::move(*db));
  TB_RETURN_IF_ERROR(owned->migrate(
      {sync::event_log_schema(), CaseIndex::schema() + StaffDirectory::schema() + kHubSchema}));
  // The hub's one writer never pays for checkpoints: a second connection does them.
  TB_RETURN_IF_ERROR(owned->exec("PRAGMA wal_autocheckpoint=0"));
  auto checkpointer = WalCheckpointer::start(data_dir / kDbFile, 200);
  if (!checkpointer.ok()) return checkpointer.status();
  auto hub = std::unique_ptr<HubService>(new HubService(district, std::move(owned), key, clock));
  hub->checkpointer_ = std::move(*checkpointer);
  return hub;
}

Result<sync::ChainHead> HubService::held(const std::string& origin) {
  std::lock_guard lock(mu_);
  return replica_.head(origin);
}

Result<CaseState> HubService::load_case(const std::string& case_id) {
  auto events = sync::events_of_case(*db_, case_id);
  if (!events.ok()) return events.status();
  CaseState s;
  for (const sync::Event& e : *events)
    TB_RETURN_IF_ERROR(evolve_serialized(s, e.body, EventMeta{e.case_id, e.origin, e.ts}));
  return s;
}

Status HubService::store_locked(const std::vector<sync::Event>& fresh, const Signature& signature) {
  // Cases this batch creates fold from their fresh events alone; cases with history are
  // replayed from the log after the append. Either way the nodes' evolve builds the row.
  std::map<std::string, CaseState> created;
  std::set<std::string> replay;
  auto indexed = db_->cached("SELECT 1 FROM cases WHERE case_id=?1");
  if (!indexed.ok()) return indexed.status();
  for (const sync::Event& e : fresh) {
    if (replay.count(e.case_id)) continue;
    auto it = created.find(e.case_id);
    if (it == created.end()) {
      const bool creates = e.kind == "case.submitted" || e.kind == "case.prereview_started";
      indexed->bind(1, e.case_id);
      auto row = indexed->step();
      if (!row.ok()) return row.status();
      indexed->reset();
      if (!creates || *row) {
        replay.insert(e.case_id);
        continue;
      }
      it = created.emplace(e.case_id, CaseState{}).first;
    }
    TB_RETURN_IF_ERROR(evolve_serialized(it->second, e.body, EventMeta{e.case_id, e.origin, e.ts}));
  }
  TB_RETURN_IF_ERROR(replica_.append(fresh, signature));
  for (const auto& [id, s] : created)
    if (s.exists() && !s.item_code.empty()) TB_RETURN_IF_ERROR(index_.upsert(s, district_));
  for (const std::string& id : replay) {
    auto s = load_case(id);
    if (!s.ok()) return s.status();
    if (!s->exists() || s->item_code.empty()) continue;  // appointments are not cases
    TB_RETURN_IF_ERROR(index_.upsert(*s, district_));
  }
  return Status::Ok();
}

Status HubService::store(const std::string& site, const sync::BatchCheck& checked,
                         const pb::Batch& batch) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  TB_RETURN_IF_ERROR(store_locked(checked.fresh, checked.signature));
  auto state = db_->cached(
      "INSERT INTO site_state(site, last_contact_ts, head_seq, head_ts, delivered_seq)"
      " VALUES(?1,?2,?3,?4,0) ON CONFLICT(site) DO UPDATE SET "
      "last_contact_ts=excluded.last_contact_ts,"
      " head_seq=max(head_seq, excluded.head_seq), head_ts=max(head_ts, excluded.head_ts)");
  if (!state.ok()) return state.status();
  TB_RETURN_IF_ERROR(state->bind(1, site)
                         .bind(2, clock_.now())
                         .bind(3, static_cast<int64_t>(batch.origin_head_seq()))
                         .bind(4, batch.origin_head_ts())
                         .run());
  return tx.commit();
}

void HubService::contact(const std::string& site, uint64_t head_seq, int64_t head_ts) {
  std::lock_guard lock(mu_);
  Contact& c = contacts_[site];
  c.at = clock_.now();
  c.head_seq = std::max(c.head_seq, head_seq);
  c.head_ts = std::max(c.head_ts, head_ts);
}

Result<uint64_t> HubService::stream_head(const std::string& site) {
  std::lock_guard lock(mu_);
  auto h = replica_.head(stream_origin(site));
  if (!h.ok()) return h.status();
  return h->seq;
}

Result<std::vector<sync::Event>> HubService::stream_read(const std::string& site, uint64_t from,
                                                         size_t max) {
  std::lock_guard lock(mu_);
  return replica_.read(stream_origin(site), from, max);
}

Status HubService::stream_acked(const std::string& site, uint64_t seq) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "INSERT INTO site_state(site, last_contact_ts, head_seq, head_ts, delivered_seq) "
      "VALUES(?1,?2,0,0,?3)"
      " ON CONFLICT(site) DO UPDATE SET delivered_seq=max(delivered_seq, excluded.delivered_seq)");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, site).bind(2, clock_.now()).bind(3, static_cast<int64_t>(seq)).run();
}

Result<int> HubService::catalog_version() {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached("SELECT coalesce(max(version), 0) FROM catalogs");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return std::max(static_cast<int>(stmt->int_at(0)), district_.catalog.version());
}

Result<int> HubService::publish_catalog(const std::string& toml_text,
                                        const std::string& operator_name) {
  auto catalog = parse_catalog(toml_text);
  if (!catalog.ok()) return catalog.status();
  auto current = catalog_version();
  if (!current.ok()) return current.status();
  if (catalog->version() <= *current)
    return Status::Conflict("stale_catalog_version",
                            "目录版本号须大于当前版本 " + std::to_string(*current),
                            "catalog version must exceed the current " + std::to_string(*current));
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto insert = db_->cached(
      "INSERT INTO catalogs(version, toml, published_ts, published_by) VALUES(?1,?2,?3,?4)");
  if (!insert.ok()) return insert.status();
  TB_RETURN_IF_ERROR(insert->bind(1, int64_t{catalog->version()})
                         .bind(2, toml_text)
                         .bind(3, clock_.now())
                         .bind(4, operator_name)
                         .run());
  pb::CatalogVersion body;
  body.set_version(catalog->version());
  body.set_catalog_toml(toml_text);
  TB_RETURN_IF_ERROR(
      append_to_streams("hub.catalog_version", body.SerializeAsString(), operator_name));
  TB_RETURN_IF_ERROR(tx.commit());
  spdlog::info("hub: catalog version {} published by {} to {} sites", catalog->version(),
               operator_name, district_.sites.size());
  return catalog->version();
}

Status HubService::append_to_streams(const std::string& kind, const std::string& body,
                                     const std::string& actor) {
  for (const SiteConfig& site : district_.sites) {
    auto e =
        replica_.extend(stream_origin(site.id), "catalog", kind, actor, clock_.now(), body, key_);
    if (!e.ok()) return e.status();
  }
  return Status::Ok();
}

Result<BundleImport> HubService::import_bundle(const std::string& sealed) {
  auto opened = unseal(sealed, key_.curve_keypair());
  if (!opened.ok())
    return Status::InvalidArgument(
        "invalid_bundle", "离线包无法解密：不是发给本区中心的或已损坏",
        "the bundle does not open with the hub key (wrong hub or altered)");
  pb::Bundle bundle;
  if (!bundle.ParseFromString(*opened) || bundle.batch().events_size() == 0)
    return Status::InvalidArgument("invalid_bundle", "离线包格式错误", "the bundle does not parse");
  const std::string origin = bundle.batch().origin();
  auto keys = load_public_keys(district_.dir, {origin});
  if (!keys.ok()) return keys.status();
  if (!district_.site(origin) || !keys->count(origin))
    return Status::Rejected("unknown_site", "离线包来自未登记或已吊销的站点",
                            "bundle of an unknown or revoked site");
  std::lock_guard lock(mu_);
  auto held = replica_.head(origin);
  if (!held.ok()) return held.status();
  const sync::BatchCheck check = sync::check_batch(bundle.batch(), *held, keys->at(origin));
  if (!check.ok()) {
    if (check.error == pb::Error::GAP)
      return Status::Conflict("bundle_gap", "离线包与中心已有数据不衔接，请先导入更早的离线包",
                              "the bundle starts after seq " + std::to_string(check.expected_seq) +
                                  ": import the earlier bundle first");
    return Status::Rejected("bundle_rejected", "离线包校验失败（签名或哈希链不符）",
                            "bundle refused: " + check.message);
  }
  BundleImport result{origin, check.fresh.size(), held->seq};
  if (check.fresh.empty()) return result;  // imported before: exactly once
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  TB_RETURN_IF_ERROR(store_locked(check.fresh, check.signature));
  TB_RETURN_IF_ERROR(tx.commit());
  result.acked_seq = check.fresh.back().seq;
  spdlog::info("hub: bundle of {} imported, {} events, now at seq {}", origin, result.added,
               result.acked_seq);
  return result;
}

Result<std::vector<sync::Event>> HubService::case_events(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return sync::events_of_case(*db_, case_id);
}

Result<std::vector<CaseSummary>> HubService::search(const CaseQuery& q) {
  std::lock_guard lock(mu_);
  return index_.search(q, today());
}

Result<std::vector<SiteSyncState>> HubService::sync_states() {
  auto keys = load_public_keys(district_.dir, district_.site_ids());
  if (!keys.ok()) return keys.status();
  std::lock_guard lock(mu_);
  std::vector<SiteSyncState> out;
  auto stmt = db_->cached(
      "SELECT last_contact_ts, head_seq, head_ts, delivered_seq FROM site_state WHERE site=?1");
  auto acked_ts = db_->cached("SELECT ts FROM events WHERE origin=?1 AND seq=?2");
  if (!stmt.ok()) return stmt.status();
  if (!acked_ts.ok()) return acked_ts.status();
  for (const SiteConfig& site : district_.sites) {
    SiteSyncState st{site.id, site.name, to_string(site.kind)};
    st.provisioned = keys->count(site.id) > 0;
    stmt->bind(1, site.id);
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (*row) {
      st.last_contact = stmt->int_at(0);
      st.head_seq = static_cast<uint64_t>(stmt->int_at(1));
      st.head_ts = stmt->int_at(2);
      st.delivered_seq = static_cast<uint64_t>(stmt->int_at(3));
    }
    stmt->reset();
    if (auto c = contacts_.find(site.id); c != contacts_.end()) {
      st.last_contact = std::max(st.last_contact, c->second.at);
      st.head_seq = std::max(st.head_seq, c->second.head_seq);
      st.head_ts = std::max(st.head_ts, c->second.head_ts);
    }
    auto held = replica_.head(site.id);
    if (!held.ok()) return held.status();
    st.acked_seq = held->seq;
    acked_ts->bind(1, site.id).bind(2, static_cast<int64_t>(held->seq));
    auto ts = acked_ts->step();
    if (ts.ok() && *ts) st.acked_ts = acked_ts->int_at(0);
    acked_ts->reset();
    auto stream = replica_.head(stream_origin(site.id));
    if (!stream.ok()) return stream.status();
    st.stream_head = stream->seq;
    out.push_back(st);
  }
  return out;
}

}  // namespace tongban::hub
