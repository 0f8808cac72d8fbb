// The hub's group commit of checked runs: a run that no longer follows its site's stored
// chain (that site's bundle was imported after the run was checked) is left out with the
// site's later runs, and the other sites' runs of the same group are stored.
#include <catch2/catch.hpp>

#include "support/test_support.h"
#include "tongban/hub/hub_store.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/replica.h"

using namespace tongban;
using namespace tongban::hub;
using tongban::test::TempDir;

namespace {

// A site's own signed log, in a database of its own, as its node keeps it.
struct SiteLog {
  std::string site;
  SigningKey key = SigningKey::generate();
  Db db;
  sync::EventLog log;

  SiteLog(const std::filesystem::path& file, std::string id)
      : site(std::move(id)), db(open(file)), log(opened(db, site, key)) {}

  static Db open(const std::filesystem::path& file) {
    auto d = Db::open(file);
    REQUIRE(d.ok());
    REQUIRE(d->migrate({sync::event_log_schema(), sync::borrowed_events_schema()}).ok());
    return std::move(*d);
  }
  static sync::EventLog opened(Db& db, const std::string& site, const SigningKey& key) {
    auto l = sync::EventLog::open(db, site, &key);
    REQUIRE(l.ok());
    return std::move(*l);
  }
  // Appends `n` events and answers them.
  std::vector<sync::Event> append(int n) {
    const uint64_t from = log.head().seq + 1;
    sync::LogWriter w(log);
    REQUIRE(w.begun().ok());
    for (int i = 0; i < n; ++i)
      REQUIRE(w.append(site + "-20261120-00000" + std::to_string(i % 3 + 1), "case.test", "clerk",
                       1000 + i, "body" + std::to_string(i))
                  .ok());
    REQUIRE(w.commit().ok());
    auto events = sync::Replica(db).read(site, from, static_cast<size_t>(n), SIZE_MAX);
    REQUIRE(events.ok());
    REQUIRE(events->size() == static_cast<size_t>(n));
    return std::move(*events);
  }
};

// `events` signed as one batch and checked against `have`, as the hub's socket thread does
// before it queues the run for the store thread.
sync::StoreRun checked_run(HubStore& hub, const SiteLog& s, const std::vector<sync::Event>& events,
                           const sync::ChainHead& have) {
  sync::BatchCheck check =
      sync::check_batch(sync::make_batch(events, s.key), have, s.key.public_key(),
                        [&](uint64_t seq) { return hub.held_hash(s.site, seq); });
  REQUIRE(check.ok());
  REQUIRE(check.fresh.size() == events.size());
  return sync::StoreRun{s.site, std::move(check), events.back().seq, events.back().ts};
}

uint64_t held(HubStore& hub, const std::string& site) {
  auto h = hub.held(site);
  REQUIRE(h.ok());
  return h->seq;
}

}  // namespace

TEST_CASE("a run overtaken by its site's bundle is left out and the other sites' runs are stored",
          "[hub][sync]") {
  TempDir dir;
  ManualClock clock(start_of(date_from_ymd(2026, 11, 20)));
  const SigningKey hub_key = SigningKey::generate();
  auto opened = HubStore::open(dir.path(), test::sample_district(), clock, hub_key, nullptr);
  REQUIRE(opened.ok());
  HubStore& hub = **opened;
  SiteLog s01(dir.path() / "s01.db", "S01");
  SiteLog s02(dir.path() / "s02.db", "S02");

  // S01's first five events are checked on the socket thread against nothing held...
  const std::vector<sync::Event> first = s01.append(5);
  sync::StoreRun stale = checked_run(hub, s01, first, {});
  // ...and the same events reach the store first through S01's bundle.
  auto imported = hub.store_runs({checked_run(hub, s01, first, {})});
  REQUIRE(imported.ok());
  CHECK(imported->empty());
  REQUIRE(held(hub, "S01") == 5);
  const auto s01_head = hub.held("S01");
  REQUIRE(s01_head.ok());

  // One group: the overtaken run, S02's run, then a run of S01 checked against the
  // bundle's head. The stale run and S01's later run are left out; S02's is stored.
  const std::vector<sync::Event> s02_events = s02.append(3);
  const std::vector<sync::Event> later = s01.append(2);
  sync::StoreRun later_run = checked_run(hub, s01, later, *s01_head);
  std::vector<sync::StoreRun> group;
  group.push_back(std::move(stale));
  group.push_back(checked_run(hub, s02, s02_events, {}));
  group.push_back(later_run);
  auto stored = hub.store_runs(group);
  REQUIRE(stored.ok());
  CHECK(*stored == std::set<std::string>{"S01"});
  CHECK(held(hub, "S02") == 3);
  CHECK(held(hub, "S01") == 5);  // nothing of S01 twice, and nothing of the group's S01
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto h = hub.held_hash("S02", seq);
    REQUIRE(h.ok());
    CHECK(*h == s02_events[seq - 1].hash);
  }

  // S01 sends again from the stored head: its later run is stored as usual.
  auto resent = hub.store_runs({later_run});
  REQUIRE(resent.ok());
  CHECK(resent->empty());
  CHECK(held(hub, "S01") == 7);
}
