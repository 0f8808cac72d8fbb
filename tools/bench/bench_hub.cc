// tongban bench hub: the district hub holding millions of cases (5,000,000 by default), its
// case index written by the hub's own CaseIndex as ingest writes it, then served by the
// real tongban-hub process: one resident's cases looked up by ID number through the HTTP
// API (the hub computes the blind index and searches the index by it) — beside the raw
// limit measured on the same file in the same run: the same indexed lookup straight on
// SQLite, no daemon.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <limits>
#include <map>
#include <random>

#include "../cli/commands.h"
#include "bench_support.h"
#include "tongban/hub/hub_store.h"
#include "tongban/hub/statistics.h"
#include "tongban/hub/supervision.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/config.h"
#include "tongban/shared/personal.h"
#include "tongban/shared/validation.h"

namespace tongban::cli {

namespace {

using namespace tongban::bench;
using nlohmann::json;

struct HubBenchOptions {
  std::string config_dir = "site-config";
  std::string bin_dir;
  long cases = 5000000;
  int lookups = 2000;
  int cases_per_resident = 3;
  long rules_events = 100000;  // per site, four sites: ingest with the rules and without
  int refusals = 1000;         // cases refused with a brief reason: the alert latency
};

// A valid GB 11643 number for resident `r`, unique for r < 27,000,000: a birth date from
// 1940 on and a serial (the bench's shared generator repeats after 21,000, which would give
// every "resident" hundreds of cases).
std::string unique_resident(long r) {
  const Date born{date_from_ymd(1940, 1, 1).days + static_cast<int>(r % 27000)};
  std::string ymd = format_date(born);
  ymd.erase(std::remove(ymd.begin(), ymd.end(), '-'), ymd.end());
  char base[24];
  std::snprintf(base, sizeof base, "610113%s%03ld", ymd.c_str(), (r / 27000) % 1000);
  return std::string(base, 17) + resident_id_check_char(std::string_view(base, 17));
}

// Writes `n` cases of every site into the hub's index through CaseIndex::upsert (what ingest
// calls), with each one's statistics row (HubStore::write_facts, also what ingest writes), in
// transactions of 50,000, filed evenly over five years from 2022-01-03. Resident r has about
// `per_resident` cases at random sites and items.
Status fill_index(const std::filesystem::path& hub_db, const District& district,
                  const Keyring& keys, long n, int per_resident) {
  auto db = Db::open(hub_db, Db::Options{false, true, 5000});  // setup: durability not timed
  if (!db.ok()) return db.status();
  TB_RETURN_IF_ERROR(db->exec("PRAGMA cache_size=-262144"));
  CaseIndex index(*db);
  std::vector<const Item*> items;
  for (const Item& i : district.catalog.items())
    if (i.bundle_of.empty()) items.push_back(&i);
  const std::vector<std::string> sites = district.site_ids();
  std::mt19937_64 rng(20261130);
  const Date start = date_from_ymd(2022, 1, 3);
  constexpr long kDays = 1826;
  const long residents = std::max(1L, n / per_resident);
  const auto t0 = SteadyClock::now();
  for (long done = 0; done < n;) {
    Transaction tx(*db);
    TB_RETURN_IF_ERROR(tx.begun());
    for (long k = 0; k < 50000 && done < n; ++k, ++done) {
      CaseState s;
      const std::string& site = sites[done % sites.size()];
      const long per_site = done / static_cast<long>(sites.size());
      const Date day{start.days + static_cast<int>(done * kDays / n)};
      std::string ymd = format_date(day);
      ymd.erase(std::remove(ymd.begin(), ymd.end(), '-'), ymd.end());
      char id[48];
      // Numbers from 500000: the rules phase's real cases (fill_log) count from 000001.
      std::snprintf(id, sizeof id, "%s-%s-%06ld", site.c_str(), ymd.c_str(), 500000 + per_site % 500000);
      s.case_id = id;
      s.origin = s.owner = site;
      const Item& item = *items[rng() % items.size()];
      s.item_code = item.code;
      s.item_name = item.name;
      s.department = item.department;
      s.promised_days = item.promised_days;
      s.legal_days = item.legal_days;
      const std::string number = unique_resident(static_cast<long>(rng() % residents));
      const std::string blind = blind_id(keys, number);
      s.applicant.set_blind(blind);
      s.created_at = s.updated_at = static_cast<Timestamp>(day.days) * 86400 + 3600;
      s.submitted_date = day;
      s.status = rng() % 3 ? CaseStatus::kAccepted : CaseStatus::kApproved;
      s.accepted_date = day;
      if (s.status == CaseStatus::kApproved) {
        s.decided_date = Date{day.days + static_cast<int>(rng() % 8)};
        s.decided_by = "reviewer" + std::to_string(rng() % 4);
      }
      TB_RETURN_IF_ERROR(index.upsert(s, district));
      TB_RETURN_IF_ERROR(hub::HubStore::write_facts(*db, hub::facts_of(s, district)));
    }
    TB_RETURN_IF_ERROR(tx.commit());
    std::fprintf(stderr, "  hub index: %ld cases (%.0f cases/s)\n", done,
                 done / (ms_since(t0) / 1000.0));
  }
  // The rules' one-time judging of cases held before they ran (an upgrade) has nothing to
  // judge here (the filled cases have no events): the hub starts in its steady state.
  return db->exec("INSERT OR IGNORE INTO supervision_state(key, value) VALUES('backfilled', 1)");
}

// 电子监察's cost, on the hub holding the filled index: real sites' signed batches (fill_log's
// cases through the real case path, 1000 events a batch) stored by HubStore::check_and_store
// — the path of every batch, live or bundled — with the district's rules and with every rule
// disabled, alternating sites (S01 with, S02 without, S03 with, S04 without). Then the alert
// latency: S05's cases refused with a two-character reason, one case (2 events) a batch as live
// traffic comes, timed from the batch's arrival to the alert read back. Then the sweep: the
// clock 60 days on, every case due judged on the timer path (HubStore::supervise).
struct RulesFigures {
  long events_per_site = 0;
  std::vector<double> with_eps, without_eps;
  std::vector<double> alert_ms;
  long swept = 0, sweep_alerts = 0, arrival_alerts = 0;
  double sweep_s = 0;
};

Result<std::vector<pb::Batch>> signed_batches(const std::filesystem::path& data, const std::string& site,
                                              size_t per_batch) {
  auto key = SigningKey::load(data / "site.key");
  if (!key.ok()) return key.status();
  auto db = Db::open(data / "node.db");
  if (!db.ok()) return db.status();
  sync::Replica replica(*db);
  auto events = replica.read(site, 1, std::numeric_limits<int64_t>::max());
  if (!events.ok()) return events.status();
  std::vector<pb::Batch> out;
  for (size_t at = 0; at < events->size(); at += per_batch) {
    const auto end = events->begin() + static_cast<long>(std::min(events->size(), at + per_batch));
    out.push_back(sync::make_batch(std::vector<sync::Event>(events->begin() + static_cast<long>(at), end), *key));
  }
  return out;
}

Result<RulesFigures> measure_rules(const std::filesystem::path& root, const std::filesystem::path& config,
                                   const std::filesystem::path& hub_data, const HubBenchOptions& o) {
  RulesFigures f;
  const std::string password = random_token().substr(0, 20);
  const std::vector<std::string> ingest_sites = {"S01", "S02", "S03", "S04"};
  for (const std::string& site : ingest_sites) {
    TB_RETURN_IF_ERROR(provision_site(config, root / site, site, password));
    std::fprintf(stderr, "rules phase: %s's log...\n", site.c_str());
    auto head = fill_log(config, root / site, site, o.rules_events, false);
    if (!head.ok()) return head.status();
    f.events_per_site = static_cast<long>(*head);
  }
  TB_RETURN_IF_ERROR(provision_site(config, root / "S05", "S05", password));
  auto refused = fill_log(config, root / "S05", "S05", 2L * o.refusals, false, Fill::kBriefRefusal);
  if (!refused.ok()) return refused.status();

  auto district = load_district(config);  // with the sites' keys now
  if (!district.ok()) return district.status();
  auto hub_key = SigningKey::load(hub_data / "hub.key");
  if (!hub_key.ok()) return hub_key.status();
  auto keys = bench_keyring(hub_data, district->hub_id);
  if (!keys.ok()) return keys.status();
  auto rules = hub::load_supervision(config, district->yellow_days);
  if (!rules.ok()) return rules.status();
  hub::SupervisionRules none = *rules;
  for (auto& [name, rule] : none.rules) rule.enabled = false;
  // The sites' cases are dated 2026-03-02; the hub reads them the next morning.
  ManualClock clock(start_of(date_from_ymd(2026, 3, 3)) + 9 * 3600);
  auto store = hub::HubStore::open(hub_data, *district, clock, *hub_key, &*keys);
  if (!store.ok()) return store.status();
  hub::HubStore& hub = **store;
  // Each site in touch as of the hub's clock with all it had sent (the sync server's view of
  // a site that synced a moment ago): its cases are judged as of today.
  std::map<std::string, uint64_t> claimed;  // each site's head, as its batches advertise it
  hub.set_contact_of([&](const std::string& site) -> std::pair<Timestamp, std::optional<uint64_t>> {
    const auto it = claimed.find(site);
    if (it == claimed.end()) return {0, std::nullopt};
    return {clock.now(), it->second};
  });

  const auto alerts_now = [&]() -> Result<int64_t> {
    hub::HubStore::AlertQuery any;
    any.limit = 1;
    auto all = hub.alerts(any);
    if (!all.ok()) return all.status();
    return all->second;
  };
  for (size_t i = 0; i < ingest_sites.size(); ++i) {
    const std::string& site = ingest_sites[i];
    const bool with_rules = i % 2 == 0;
    auto batches = signed_batches(root / site, site, 1000);
    if (!batches.ok()) return batches.status();
    hub.set_supervision(with_rules ? *rules : none);
    auto before = alerts_now();
    if (!before.ok()) return before.status();
    const auto t = SteadyClock::now();
    for (const pb::Batch& b : *batches) {
      claimed[site] = b.events(b.events_size() - 1).seq();
      auto stored = hub.check_and_store(b, district->public_keys.at(site));
      if (!stored.ok()) return stored.status();
      if (!stored->check.ok())
        return Status::Internal("batch of " + site + " refused: " + stored->check.message);
    }
    const double eps = f.events_per_site / (ms_since(t) / 1000.0);
    (with_rules ? f.with_eps : f.without_eps).push_back(eps);
    auto after = alerts_now();
    if (!after.ok()) return after.status();
    f.arrival_alerts += *after - *before;
    std::fprintf(stderr, "  %s %s the rules: %.0f events/s\n", site.c_str(), with_rules ? "with" : "without", eps);
  }

  hub.set_supervision(*rules);
  auto live = signed_batches(root / "S05", "S05", 2);  // one case, submitted and refused
  if (!live.ok()) return live.status();
  for (const pb::Batch& b : *live) {
    const auto t = SteadyClock::now();
    claimed["S05"] = b.events(b.events_size() - 1).seq();
    auto stored = hub.check_and_store(b, district->public_keys.at("S05"));
    if (!stored.ok()) return stored.status();
    hub::HubStore::AlertQuery q;
    q.case_id = b.events(0).case_id();
    q.rule = "brief_reason";
    auto found = hub.alerts(q);
    if (!found.ok()) return found.status();
    if (found->second != 1) return Status::Internal("no brief_reason alert on " + q.case_id);
    f.alert_ms.push_back(ms_since(t));
  }

  // Sixty days on: the approved cases' licenses were never delivered, the open ones wait.
  clock.advance_days(60);
  {
    auto side = Db::open(hub_data / hub::HubStore::kDbFile);
    if (!side.ok()) return side.status();
    auto due = side->prepare("SELECT COUNT(*) FROM supervision_due WHERE due<=?1");
    if (!due.ok()) return due.status();
    due->bind(1, int64_t{date_of(clock.now()).days});
    auto row = due->step();
    if (!row.ok()) return row.status();
    f.swept = due->int_at(0);
  }
  std::fprintf(stderr, "  the sweep, 60 days on: %ld cases due...\n", f.swept);
  const auto t = SteadyClock::now();
  auto raised = hub.supervise();
  if (!raised.ok()) return raised.status();
  f.sweep_s = ms_since(t) / 1000.0;
  f.sweep_alerts = *raised;
  return f;
}

int run_bench_hub(HubBenchOptions o) {
  if (o.bin_dir.empty()) o.bin_dir = tools::self_dir().parent_path().string();
  const auto fail = [](const Status& s) {
    std::cerr << "bench hub: " << s.message_en() << "\n";
    return 2;
  };
  char tmpl[] = "/tmp/tongban-bench-hub-XXXXXX";
  if (!mkdtemp(tmpl)) return fail(Status::Unavailable("mkdtemp"));
  const std::filesystem::path root(tmpl), config = root / "site-config", data = root / "HUB";
  if (Status s = copy_site_config(o.config_dir, config); !s.ok()) return fail(s);
  std::filesystem::remove_all(config / "keys");
  const std::string password = random_token().substr(0, 20);
  if (Status s = provision_hub(config, data, password); !s.ok()) return fail(s);
  auto district = load_district(config);
  if (!district.ok()) return fail(district.status());
  auto keys = bench_keyring(data, district->hub_id);
  if (!keys.ok()) return fail(keys.status());
  std::fprintf(stderr, "writing %ld cases into the hub's index...\n", o.cases);
  const auto t_fill = SteadyClock::now();
  if (Status s = fill_index(data / hub::HubStore::kDbFile, *district, *keys, o.cases,
                            o.cases_per_resident);
      !s.ok())
    return fail(s);
  const double fill_s = ms_since(t_fill) / 1000.0;
  const long residents = std::max(1L, o.cases / o.cases_per_resident);

  // The raw limit: the same lookup (by blind index) straight on SQLite, same file, no daemon.
  std::vector<double> raw_ms;
  {
    auto db = Db::open(data / hub::HubStore::kDbFile, Db::Options{false, true, 5000});
    if (!db.ok()) return fail(db.status());
    std::mt19937 rng(7);
    for (int i = 0; i < o.lookups; ++i) {
      const std::string blind = blind_id(*keys, unique_resident(static_cast<long>(rng() % residents)));
      const std::string hex = to_hex(reinterpret_cast<const uint8_t*>(blind.data()), blind.size());
      const auto t = SteadyClock::now();
      auto stmt = db->cached(
          "SELECT case_id FROM cases WHERE applicant_id=?1 ORDER BY updated_ts DESC, case_id LIMIT 50");
      if (!stmt.ok()) return fail(stmt.status());
      stmt->bind(1, hex);
      for (;;) {
        auto row = stmt->step();
        if (!row.ok()) return fail(row.status());
        if (!*row) break;
      }
      raw_ms.push_back(ms_since(t));
    }
  }

  // The raw limit of a month's figures: the grouped read of the month's concluded cases
  // straight on SQLite (the heaviest of the three reads GET /stats makes).
  const std::string month = "2026-06";
  std::vector<double> raw_stats_ms;
  {
    auto db = Db::open(data / hub::HubStore::kDbFile, Db::Options{false, true, 5000});
    if (!db.ok()) return fail(db.status());
    for (int i = 0; i < 20; ++i) {
      const auto t = SteadyClock::now();
      auto stmt = db->cached(
          "SELECT site, COUNT(*), SUM(decided), SUM(decided AND on_time), SUM(used_days)"
          " FROM case_stats WHERE concluded BETWEEN ?1 AND ?2 GROUP BY 1");
      if (!stmt.ok()) return fail(stmt.status());
      stmt->bind(1, int64_t{date_from_ymd(2026, 6, 1).days}).bind(2, int64_t{date_from_ymd(2026, 6, 30).days});
      for (;;) {
        auto row = stmt->step();
        if (!row.ok()) return fail(row.status());
        if (!*row) break;
      }
      raw_stats_ms.push_back(ms_since(t));
    }
  }

  auto hub = start_daemon({o.bin_dir + "/hub/tongban-hub", "--site-config", config.string(),
                           "--data", data.string(), "--sync", "tcp://127.0.0.1:0", "--port-file",
                           (data / "http.port").string(), "--log-level", "warn", "--key-file",
                           kek_file(data).string()},
                          data / "http.port", data / "hub.log");
  if (!hub.ok()) return fail(hub.status());
  httplib::Client c("127.0.0.1", hub->port);
  c.set_keep_alive(true);
  auto login = c.Post("/api/v1/login", json{{"username", "operator"}, {"password", password}}.dump(),
                      "application/json");
  if (!login || login->status != 200) return fail(Status::Unavailable("hub login failed"));
  const httplib::Headers auth = {
      {"Authorization", "Bearer " + json::parse(login->body)["token"].get<std::string>()}};
  std::vector<double> api_ms;
  long found = 0;
  std::mt19937 rng(11);
  for (int i = 0; i < o.lookups; ++i) {
    const std::string number = unique_resident(static_cast<long>(rng() % residents));
    const auto t = SteadyClock::now();
    auto r = c.Get("/api/v1/cases?limit=50&id_number=" + number, auth);
    api_ms.push_back(ms_since(t));
    if (!r || r->status != 200) return fail(Status::Unavailable("lookup failed"));
    found += json::parse(r->body)["count"].get<long>();
  }
  // One month's statistics for the district (by site), through the API.
  std::vector<double> stats_ms;
  long month_concluded = 0;
  for (int i = 0; i < 20; ++i) {
    const auto t = SteadyClock::now();
    auto r = c.Get("/api/v1/stats?by=site&month=" + month, auth);
    stats_ms.push_back(ms_since(t));
    if (!r || r->status != 200) return fail(Status::Unavailable("statistics failed"));
    month_concluded = json::parse(r->body)["total"]["concluded"].get<long>();
  }
  const double rss_mb = tools::proc_status_kb(hub->process.pid(), "VmRSS") / 1024.0;
  hub->process.signal(SIGTERM);
  hub->process.wait(std::chrono::seconds(30));
  const double db_mb = std::filesystem::file_size(data / hub::HubStore::kDbFile) / 1e6;

  // 电子监察's cost at ingest, its alert latency and its sweep, in-process on the same file
  // once the daemon has stopped (its writes would otherwise sit in the WAL the lookups read
  // through), beside the raw limit of batched appends on this disk.
  std::fprintf(stderr, "rules phase: %ld events per site, %d refusals...\n", o.rules_events, o.refusals);
  auto rules = measure_rules(root, config, data, o);
  if (!rules.ok()) return fail(rules.status());
  const double raw_appends = raw_batched_appends_per_s(root, 400, 200000);
  const auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / v.size();
  };
  const double with_eps = mean(rules->with_eps), without_eps = mean(rules->without_eps);
  if (!std::getenv("TONGBAN_BENCH_KEEP")) std::filesystem::remove_all(root);  // kept for profiling

  std::printf("tongban bench hub (%ld cases in the hub's index, lookups over HTTP on loopback)\n",
              o.cases);
  std::printf("%-52s %14s %12s\n", "figure", "value", "target");
  std::printf("%-52s %14.0f %12s\n", "index written, cases/s (CaseIndex::upsert)", o.cases / fill_s, "-");
  std::printf("%-52s %14.0f %12s\n", "hub.db size, MB", db_mb, "-");
  std::printf("%-52s %14.3f %12s\n", "raw SQLite lookup by blind index p50, ms", percentile(raw_ms, 0.5), "-");
  std::printf("%-52s %14.3f %12s\n", "raw SQLite lookup by blind index p99, ms", percentile(raw_ms, 0.99), "-");
  std::printf("%-52s %14.3f %12s\n", "blind lookup via GET /cases?id_number= p50, ms", percentile(api_ms, 0.5), "-");
  std::printf("%-52s %14.3f %12s\n", "blind lookup via GET /cases?id_number= p99, ms", percentile(api_ms, 0.99), "< 5");
  std::printf("%-52s %14.2f %12s\n", "cases found per lookup (mean)", static_cast<double>(found) / o.lookups, "-");
  std::printf("%-52s %14.1f %12s\n", "raw SQLite month's concluded by site p50, ms", percentile(raw_stats_ms, 0.5), "-");
  std::printf("%-52s %14.1f %12s\n", "GET /stats?month= (district by site) p50, ms", percentile(stats_ms, 0.5), "-");
  std::printf("%-52s %14.1f %12s\n", "GET /stats?month= (district by site) max, ms", percentile(stats_ms, 1.0), "< 500");
  std::printf("%-52s %14ld %12s\n", "cases concluded in that month", month_concluded, "-");
  std::printf("%-52s %14.1f %12s\n", "hub RSS after the lookups, MB", rss_mb, "-");
  std::printf("%-52s %14.0f %12s\n", "raw SQLite batched appends (400 B rows), rows/s", raw_appends, "-");
  std::printf("%-52s %14.0f %12s\n", "ingest without the rules, events/s (S02, S04)", without_eps, "-");
  std::printf("%-52s %14.0f %12s\n", "ingest with the rules, events/s (S01, S03)", with_eps, "-");
  std::printf("%-52s %14.2f %12s\n", "with / without", without_eps ? with_eps / without_eps : 0.0, ">= 0.8");
  std::printf("%-52s %14ld %12s\n", "alerts raised on arrival (with the rules)", rules->arrival_alerts, "-");
  std::printf("%-52s %14.2f %12s\n", "alert latency p50, ms (batch arrives -> alert read)", percentile(rules->alert_ms, 0.5), "-");
  std::printf("%-52s %14.2f %12s\n", "alert latency p99, ms", percentile(rules->alert_ms, 0.99), "< 100");
  std::printf("%-52s %14ld %12s\n", "cases due in the sweep (60 days on)", rules->swept, "-");
  std::printf("%-52s %14.2f %12s\n", "sweep, s", rules->sweep_s, "< 1");
  std::printf("%-52s %14.0f %12s\n", "sweep, cases/s", rules->sweep_s ? rules->swept / rules->sweep_s : 0.0, "-");
  std::printf("%-52s %14ld %12s\n", "alerts the sweep raised", rules->sweep_alerts, "-");
  const json figures = {{"cases", o.cases},
                        {"lookups", o.lookups},
                        {"fill_cases_per_s", o.cases / fill_s},
                        {"hub_db_mb", db_mb},
                        {"raw_lookup_p50_ms", percentile(raw_ms, 0.5)},
                        {"raw_lookup_p99_ms", percentile(raw_ms, 0.99)},
                        {"blind_lookup_p50_ms", percentile(api_ms, 0.5)},
                        {"blind_lookup_p99_ms", percentile(api_ms, 0.99)},
                        {"found_per_lookup", static_cast<double>(found) / o.lookups},
                        {"raw_stats_month_ms", percentile(raw_stats_ms, 0.5)},
                        {"stats_month_p50_ms", percentile(stats_ms, 0.5)},
                        {"stats_month_ms", percentile(stats_ms, 1.0)},
                        {"month_concluded", month_concluded},
                        {"hub_rss_mb", rss_mb},
                        {"raw_batched_appends_per_s", raw_appends},
                        {"rules_events_per_site", rules->events_per_site},
                        {"ingest_without_rules_events_per_s", without_eps},
                        {"ingest_events_per_s", with_eps},
                        {"ingest_rules_ratio", without_eps ? with_eps / without_eps : 0.0},
                        {"arrival_alerts", rules->arrival_alerts},
                        {"alert_latency_p50_ms", percentile(rules->alert_ms, 0.5)},
                        {"alert_latency_p99_ms", percentile(rules->alert_ms, 0.99)},
                        {"sweep_cases", rules->swept},
                        {"sweep_s", rules->sweep_s},
                        {"sweep_alerts", rules->sweep_alerts}};
  std::printf("%s\n", figures.dump().c_str());
  return 0;
}

}  // namespace

void add_bench_hub(CLI::App& bench) {
  auto o = std::make_shared<HubBenchOptions>();
  CLI::App* cmd = bench.add_subcommand("hub", "区级中心百万级案件检索 / the hub with millions of cases");
  cmd->add_option("--site-config", o->config_dir, "站点配置目录 / site-config directory");
  cmd->add_option("--bin-dir", o->bin_dir, "构建目录（含 hub/）/ build dir with hub/");
  cmd->add_option("--cases", o->cases, "中心索引中的案件数 / cases in the hub's index")
      ->check(CLI::Range(1000L, 100000000L));
  cmd->add_option("--lookups", o->lookups, "计时的检索次数 / lookups timed")
      ->check(CLI::Range(10, 1000000));
  cmd->add_option("--rules-events", o->rules_events,
                  "监察规则开销：每站点事件数（4 个站点）/ events per site for the rules' ingest cost")
      ->check(CLI::Range(2000L, 10000000L));
  cmd->add_option("--refusals", o->refusals, "预警时延的样本数 / cases timed for the alert latency")
      ->check(CLI::Range(10, 100000));
  cmd->callback([o] { exit_code() = run_bench_hub(*o); });
}

}  // namespace tongban::cli
