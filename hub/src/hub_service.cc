#include "tongban/hub/hub_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "tongban/shared/projector.h"
#include "tongban/shared/validation.h"
#include "wire.pb.h"

namespace tongban::hub {

Result<std::unique_ptr<HubService>> HubService::open(const District& district,
                                                     const std::filesystem::path& data_dir,
                                                     const SigningKey& key, const Clock& clock,
                                                     const Keyring* keys) {
  // The 电子监察 rules first: a hub with a bad supervision.toml does not start.
  auto rules = load_supervision(district.dir, district.yellow_days);
  if (!rules.ok()) return rules.status();
  auto store = HubStore::open(data_dir, district, clock, key, keys);
  if (!store.ok()) return store.status();
  (*store)->set_supervision(std::move(*rules));
  auto service = std::unique_ptr<HubService>(
      new HubService(district, std::move(*store), key, clock, keys));
  service->store_->set_contact_of([hub = service.get()](const std::string& site) {
    std::lock_guard lock(hub->contacts_mu_);
    auto it = hub->contacts_.find(site);
    if (it == hub->contacts_.end())
      return std::pair<Timestamp, std::optional<uint64_t>>{0, std::nullopt};
    return std::pair{it->second.at, it->second.head_seq};
  });
  return service;
}

Result<sync::ChainHead> HubService::held(const std::string& origin) {
  return store_->held(origin);
}

void HubService::diverged(const std::string& site, uint64_t seq, const std::string& message) {
  auto news = store_->record_fork(site, seq, message);
  if (!news.ok())
    spdlog::error("hub: site {} forked at seq {} but recording it failed: {}", site, seq,
                  news.status().message_en());
  else if (*news)  // alert once; the site is refused on every later try without a new line
    spdlog::error("hub: site {} FORKED at seq {} ({}): nothing of it is acknowledged; restore "
                  "the site from the hub",
                  site, seq, message);
}

Status HubService::admit(const std::vector<sync::Event>& fresh) { return case_events_only(fresh); }

void HubService::contact(const std::string& site, const std::optional<sync::HeadClaim>& head) {
  constexpr Timestamp kFutureSlack = 300;  // a head time further ahead is not believed
  const Timestamp now = clock_.now();
  std::lock_guard lock(contacts_mu_);
  Contact& c = contacts_[site];
  if (c.at == 0 || now - c.at > SiteSyncState::kLiveSeconds) c.up_since = now;
  c.at = now;
  if (head && (!c.head_seq || head->seq >= *c.head_seq)) {
    c.head_seq = head->seq;
    c.head_ts = head->ts <= now + kFutureSlack ? std::optional<Timestamp>(head->ts) : std::nullopt;
  }
}

Result<uint64_t> HubService::stream_head(const std::string& site) {
  return store_->stream_head(site);
}

Result<std::vector<sync::Event>> HubService::stream_read(const std::string& site, uint64_t from,
                                                         size_t max, size_t max_bytes) {
  return store_->stream_read(site, from, max, max_bytes);
}

Status HubService::stream_acked(const std::string& site, uint64_t seq) {
  return store_->stream_acked(site, seq);
}

Result<int> HubService::publish_catalog(const std::string& toml_text,
                                        const std::string& operator_name) {
  if (toml_text.size() > kMaxCatalogBytes) {
    const std::string limit = std::to_string(kMaxCatalogBytes >> 20) + " MiB";
    return Status::InvalidArgument(
        "catalog_too_large", "事项目录超过 " + limit + "，无法下发到各站点，未发布",
        "the catalog is over " + limit + " (" + std::to_string(toml_text.size()) +
            " bytes): it could not be delivered to the sites, so it was not published");
  }
  auto catalog = parse_catalog(toml_text);
  if (!catalog.ok()) return catalog.status();
  TB_RETURN_IF_ERROR(store_->publish_catalog(catalog->version(), toml_text, operator_name, key_));
  spdlog::info("hub: catalog version {} published by {} to {} sites", catalog->version(),
               operator_name, district_.sites.size());
  return catalog->version();
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
  auto ingested = store_->check_and_store(bundle.batch(), keys->at(origin));
  if (!ingested.ok()) return ingested.status();
  const sync::BatchCheck& check = ingested->check;
  if (!check.ok()) {
    if (check.error == pb::Error::FORK) {
      diverged(origin, check.expected_seq, "bundle: " + check.message);
      return Status::Conflict("bundle_fork",
                              "离线包与中心已确认的记录不一致（第" +
                                  std::to_string(check.expected_seq) + "号事件历史分叉），已告警",
                              "the bundle forks from the events the hub acknowledged at seq " +
                                  std::to_string(check.expected_seq));
    }
    if (check.error == pb::Error::GAP)
      return Status::Conflict("bundle_gap", "离线包与中心已有数据不衔接，请先导入更早的离线包",
                              "the bundle starts after seq " + std::to_string(check.expected_seq) +
                                  ": import the earlier bundle first");
    return Status::Rejected("bundle_rejected", "离线包校验失败（签名或哈希链不符）",
                            "bundle refused: " + check.message);
  }
  BundleImport result{origin, check.fresh.size(), ingested->before.seq};
  if (check.fresh.empty()) return result;  // imported before: exactly once
  result.acked_seq = check.fresh.back().seq;
  spdlog::info("hub: bundle of {} imported, {} events, now at seq {}", origin, result.added,
               result.acked_seq);
  return result;
}

pb::ResidentAnswer HubService::resident_query(const std::string& site, const pb::ResidentQuery& q) {
  pb::ResidentAnswer a;
  a.set_request_id(q.request_id());
  const std::string& id = q.applicant_id();
  const bool hex = id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  const bool lookup = !q.reason().empty();
  if (!hex) {
    a.set_error("invalid_applicant");
    return a;
  }
  if (lookup && (q.reason().size() < 4 || q.reason().size() > 500 || !is_clean_utf8(q.reason()) ||
                 q.staff().empty() || q.staff().size() > 64)) {
    a.set_error("reason_required");
    return a;
  }
  // The check asks about one item: searched by it, so no cap on other items hides it.
  auto r = store_->resident(id, lookup ? std::string() : q.item_code(), today());
  if (!r.ok()) {
    a.set_error("unavailable");
    return a;
  }
  for (const CaseSummary& c : r->cases) {
    const auto status = case_status_from(c.status);
    const bool open = status && is_active(*status);
    // The acceptance check: the same item, still open, elsewhere than the case at hand.
    if (!lookup && (c.item_code != q.item_code() || !open || c.case_id == q.exclude_case()))
      continue;
    pb::ResidentCase* out = a.add_cases();
    out->set_case_id(c.case_id);
    out->set_site(c.origin);
    out->set_owner(c.owner);
    out->set_item_code(c.item_code);
    out->set_item_name(c.item_name);
    out->set_status(c.status);
    out->set_updated_ts(c.updated_at);
    out->set_open(open);
  }
  a.set_broke_commitment(r->broke_commitment);
  if (lookup) {
    // Recorded before the answer goes out: a lookup that cannot be recorded is not answered.
    const Status recorded = store_->record_resident_lookup(
        {clock_.now(), site, q.staff(), id, q.reason(), a.cases_size()});
    if (!recorded.ok()) {
      pb::ResidentAnswer refused;
      refused.set_request_id(q.request_id());
      refused.set_error("unavailable");
      return refused;
    }
    spdlog::info("hub: {} at {} looked up a resident across the district (reason recorded)",
                 q.staff(), site);
  }
  return a;
}

Result<CaseState> HubService::get_case(const std::string& case_id) {
  if (!valid_case_id(case_id)) return Status::NotFound("not_found", "案件不存在", "case not found");
  auto s = store_->load_case(case_id);
  if (!s.ok()) return s.status();
  if (!is_case(*s)) return Status::NotFound("not_found", "案件不存在", "case not found");
  return s;
}

Result<CaseState> HubService::reveal_case(const std::string& case_id, const std::string& by,
                                          const std::string& reason) {
  if (!valid_case_id(case_id)) return Status::NotFound("not_found", "案件不存在", "case not found");
  auto s = store_->reveal_case(case_id, by, reason);
  if (!s.ok()) return s.status();
  if (!is_case(*s)) return Status::NotFound("not_found", "案件不存在", "case not found");
  return s;
}

// Working hours (09:00-17:00 CST on working days) between two times.
double working_hours_between(Timestamp from, Timestamp to, const WorkCalendar& cal) {
  constexpr Timestamp kDay = 86400, kCst = 8 * 3600, kOpen = 9 * 3600, kClose = 17 * 3600;
  if (to <= from) return 0;
  double seconds = 0;
  // At most a year of days is walked: a case waiting longer is stuck whatever the sum.
  for (Timestamp day = (from + kCst) / kDay * kDay - kCst; day < to && day < from + 366 * kDay;
       day += kDay) {
    if (!cal.is_working_day(date_of(day + kOpen))) continue;
    const Timestamp a = std::max(from, day + kOpen), b = std::min(to, day + kClose);
    if (b > a) seconds += static_cast<double>(b - a);
  }
  return seconds / 3600.0;
}

Result<std::vector<HubService::QueueEntry>> HubService::dispatch_queue(const std::string& state,
                                                                       double stuck_hours,
                                                                       bool stuck_only,
                                                                       int limit) {
  if (state != "requested" && state != "dispatched" && state != "returned")
    return Status::InvalidArgument("invalid_state", "state 应为 requested、dispatched 或 returned",
                                   "state must be requested, dispatched or returned");
  CaseQuery q;
  q.transfer = state;
  q.limit = 10000;
  auto found = store_->search(q, today());
  if (!found.ok()) return found.status();
  std::sort(found->begin(), found->end(), [](const CaseSummary& a, const CaseSummary& b) {
    return a.transfer_since < b.transfer_since;
  });
  const Timestamp now = clock_.now();
  std::vector<QueueEntry> out;
  for (const CaseSummary& c : *found) {
    QueueEntry e{c, working_hours_between(c.transfer_since, now, district_.calendar), false};
    e.stuck = e.waited_working_hours >= stuck_hours;
    if (stuck_only && !e.stuck) continue;
    out.push_back(std::move(e));
    if (static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

std::string to_string(SiteSyncState::Link link) {
  switch (link) {
    case SiteSyncState::Link::kConnected: return "connected";
    case SiteSyncState::Link::kIdle: return "idle";
    case SiteSyncState::Link::kUnreachable: return "unreachable";
    case SiteSyncState::Link::kNever: break;
  }
  return "never";
}

std::optional<uint64_t> SiteSyncState::events_behind() const {
  if ((link != Link::kConnected && link != Link::kIdle) || !head_seq) return std::nullopt;
  return *head_seq > acked_seq ? *head_seq - acked_seq : 0;
}

std::optional<int64_t> SiteSyncState::seconds_behind() const {
  const auto behind = events_behind();
  if (!behind) return std::nullopt;
  if (*behind == 0) return 0;
  if (!head_ts) return std::nullopt;
  return std::max<int64_t>(0, *head_ts - acked_ts);
}

Result<std::vector<SiteSyncState>> HubService::sync_states() {
  auto keys = load_public_keys(district_.dir, district_.site_ids());
  if (!keys.ok()) return keys.status();
  std::map<std::string, Contact> contacts;
  {
    std::lock_guard lock(contacts_mu_);
    contacts = contacts_;
  }
  const Timestamp now = clock_.now();
  std::vector<SiteSyncState> out;
  for (const SiteConfig& site : district_.sites) {
    auto r = store_->site_record(site.id);
    if (!r.ok()) return r.status();
    SiteSyncState st;
    st.site = site.id;
    st.name = site.name;
    st.kind = to_string(site.kind);
    st.provisioned = keys->count(site.id) > 0;
    st.last_contact = r->last_contact;
    Timestamp up_since = r->last_contact;
    // Heads stored with batches were verified claims too (0: none yet).
    if (r->head_seq > 0) st.head_seq = r->head_seq;
    if (r->head_ts > 0) st.head_ts = r->head_ts;
    st.acked_seq = r->acked_seq;
    st.acked_ts = r->acked_ts;
    st.stream_head = r->stream_head;
    st.delivered_seq = r->delivered_seq;
    st.fork_seq = r->fork_seq;
    st.fork_detected = r->fork_detected;
    st.fork_message = r->fork_message;
    if (auto c = contacts.find(site.id); c != contacts.end()) {
      if (c->second.at >= st.last_contact) up_since = c->second.up_since;
      st.last_contact = std::max(st.last_contact, c->second.at);
      if (c->second.head_seq && (!st.head_seq || *c->second.head_seq >= *st.head_seq)) {
        st.head_seq = c->second.head_seq;
        st.head_ts = c->second.head_ts;
      }
    }
    // A claim behind what the hub holds is stale: the hub's own count stands.
    if (st.head_seq && *st.head_seq < st.acked_seq) {
      st.head_seq = st.acked_seq;
      st.head_ts = st.acked_ts;
    }
    if (st.last_contact == 0) {
      st.link = SiteSyncState::Link::kNever;
    } else if (now - st.last_contact > SiteSyncState::kLiveSeconds) {
      st.link = SiteSyncState::Link::kUnreachable;
      st.since = st.last_contact;
    } else {
      st.since = up_since;
      st.link = st.head_seq && *st.head_seq <= st.acked_seq ? SiteSyncState::Link::kIdle
                                                            : SiteSyncState::Link::kConnected;
    }
    out.push_back(st);
  }
  return out;
}

}  // namespace tongban::hub
