#include "tongban/node/case_service.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"

using namespace tongban;
using namespace tongban::node;

namespace {

struct ServiceFixture {
  test::TempDir dir;
  SigningKey key = SigningKey::generate();
  Keyring keys = Keyring::generate("S01", random_key(), 0);
  ManualClock clock{test::at(2026, 11, 2)};  // a Monday
  const District& district = test::sample_district();
  std::unique_ptr<NodeStore> owned = open_store();
  NodeStore& store = *owned;
  CaseService cases{district, *district.site("S01"), store, key};
  const Actor clerk{"clerk", Role::kClerk, false, ""};
  const Actor reviewer{"reviewer", Role::kReviewer, false, ""};

  std::unique_ptr<NodeStore> open_store() {
    auto s = NodeStore::open(dir.path(), "S01", &key, district, clock, &keys);
    REQUIRE(s.ok());
    return std::move(*s);
  }
  // Another connection to node.db, as a second process would hold it.
  Db other_connection() {
    auto db = Db::open(dir.path() / NodeStore::kDbFile);
    REQUIRE(db.ok());
    return std::move(*db);
  }
};

ApplicationInput app(const std::string& item, std::vector<std::string> provided) {
  ApplicationInput in;
  in.item_code = item;
  in.applicant.set_name("张三");
  in.applicant.set_id_number("11010519491231002X");
  in.applicant.set_phone("13912345678");
  in.provided = std::move(provided);
  return in;
}

}  // namespace

TEST_CASE("the sweep deems an unanswered application accepted", "[node][service]") {
  ServiceFixture f;
  auto c = f.cases.create(Submit{app("GA002", {"ID"}), std::nullopt}, f.clerk);
  REQUIRE(c.ok());
  f.clock.advance_days(7);  // Nov 9: the 5th working day has passed? Nov 3..9 = 5 working days
  REQUIRE(*f.cases.sweep() == 0);
  f.clock.advance_days(1);
  REQUIRE(*f.cases.sweep() == 1);
  auto after = f.cases.get(c->case_id, f.clerk);
  REQUIRE(after.ok());
  CHECK(after->status == CaseStatus::kAccepted);
  CHECK(after->deemed_accepted);
  REQUIRE(*f.cases.sweep() == 0);  // nothing left to do
}

TEST_CASE("a missed 容缺 deadline terminates the case and the applicant loses 容缺",
          "[node][service]") {
  ServiceFixture f;
  auto c = f.cases.create(Submit{app("YB002", {"ID", "INVOICE", "BANK"}),
                                 AcceptInput{{"EXPENSE_LIST", "DISCHARGE"}, true, 2}},
                          f.clerk);
  REQUIRE(c.ok());
  CHECK(c->supply_deadline == date_from_ymd(2026, 11, 4));
  f.clock.advance_days(3);
  REQUIRE(*f.cases.sweep() == 1);
  CHECK(f.cases.get(c->case_id, f.clerk)->status == CaseStatus::kTerminated);
  auto again = f.cases.create(Submit{app("YB002", {"ID", "INVOICE", "BANK"}),
                                     AcceptInput{{"EXPENSE_LIST", "DISCHARGE"}, true, 2}},
                              f.clerk);
  CHECK(again.status().reason() == "tolerance_ineligible");
  // The refusal appended nothing: numbering did not advance.
  auto next = f.cases.create(Submit{app("RS001", {"ID", "PHOTO"}), std::nullopt}, f.clerk);
  REQUIRE(next.ok());
  CHECK(next->case_id == "S01-20261105-000001");
}

TEST_CASE("a storage failure returns Unavailable and leaves nothing half-written",
          "[node][service]") {
  ServiceFixture f;
  auto c = f.cases.create(Submit{app("RS001", {"ID", "PHOTO"}), std::nullopt}, f.clerk);
  REQUIRE(c.ok());
  const uint64_t head = f.store.head().seq;
  // The index write fails after the event is already appended in the same transaction.
  Db other = f.other_connection();
  REQUIRE(other
              .exec("CREATE TRIGGER injected_fault BEFORE UPDATE ON cases"
                    " BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
              .ok());
  auto failed = f.cases.execute(c->case_id, Accept{}, f.clerk);
  CHECK(failed.status().code() == StatusCode::kUnavailable);
  CHECK(f.store.head().seq == head);
  CHECK(f.store.case_events(c->case_id)->size() == 1);
  REQUIRE(other.exec("DROP TRIGGER injected_fault").ok());
  CHECK(f.cases.get(c->case_id, f.clerk)->status == CaseStatus::kSubmitted);
  REQUIRE(f.cases.execute(c->case_id, Accept{}, f.clerk).ok());
  CHECK(f.store.head().seq == head + 1);
  CHECK(f.store.case_events(c->case_id)->size() == 2);
}

TEST_CASE("bulk import commits every script or none", "[node][service]") {
  ServiceFixture f;
  const CaseService::Script good = {{f.clerk, Submit{app("RS001", {"ID", "PHOTO"}), AcceptInput{}}},
                                    {f.reviewer, DecideCase{true, "", ""}}};
  const CaseService::Script bad = {
      {f.clerk, Submit{app("RS001", {"ID"}), AcceptInput{}}}};  // photo missing
  CHECK_FALSE(f.cases.bulk_create({good, bad}).ok());
  CHECK(f.store.head().seq == 0);
  auto ids = f.cases.bulk_create({good, good});
  REQUIRE(ids.ok());
  CHECK(ids->size() == 2);
  CHECK(f.store.head().seq == 8);  // submitted, accepted, decided, license each
}

TEST_CASE("projections rebuilt from the log equal the live ones", "[node][service]") {
  ServiceFixture f;
  for (int i = 0; i < 5; ++i) {
    auto c = f.cases.create(Submit{app("YB002", {"ID", "INVOICE", "BANK"}), std::nullopt}, f.clerk);
    REQUIRE(c.ok());
    if (i % 2)
      REQUIRE(f.cases.execute(c->case_id, Accept{{{"EXPENSE_LIST", "DISCHARGE"}, true, 3}}, f.clerk)
                  .ok());
    f.clock.advance_days(1);
  }
  REQUIRE(f.cases.sweep().ok());
  auto live = f.store.index_digest();
  REQUIRE(live.ok());
  REQUIRE(f.store.rebuild_projections().ok());
  CHECK(*f.store.index_digest() == *live);
}

TEST_CASE("appointment slots follow the calendar and 5+2 extended hours", "[node][service]") {
  ServiceFixture f;
  auto weekday = f.cases.slots(date_from_ymd(2026, 11, 2));
  REQUIRE(weekday.ok());
  CHECK(weekday->size() == 17);  // 6 morning, 7 afternoon, 4 evening (S01 keeps extended hours)
  CHECK(weekday->back().extended_hours);
  auto saturday = f.cases.slots(date_from_ymd(2026, 11, 7));
  REQUIRE(saturday.ok());
  CHECK(saturday->size() == 6);
  CHECK(f.cases.slots(date_from_ymd(2026, 10, 3))->empty());  // National Day
  const SiteConfig* plain = f.district.site("S03");
  CaseService s03(f.district, *plain, f.store, f.key);
  CHECK(s03.slots(date_from_ymd(2026, 11, 7))->empty());
  CHECK(s03.slots(date_from_ymd(2026, 11, 2))->size() == 13);

  BookingInput b{"GA002", "2026-11-03", "09:00", app("GA002", {}).applicant};
  auto booked = f.cases.book(b, f.clerk);
  REQUIRE(booked.ok());
  CHECK(f.cases.check_in(booked->id, f.clerk).status().reason() == "not_today");
  f.clock.advance_days(1);
  CHECK(f.cases.check_in(booked->id, f.clerk).ok());
  b.date = "2026-10-01";
  CHECK(f.cases.book(b, f.clerk).status().reason() == "invalid_date");
}

TEST_CASE("a case key made in a write that rolls back is made again and stored", "[node][sealed]") {
  ServiceFixture f;
  pb::CaseEvent e;
  e.mutable_prereview_started()->set_item_code("RS001");
  e.mutable_prereview_started()->mutable_applicant()->set_name("回滚甲");
  CaseState first;
  auto failed = f.store.write([&](NodeStore::Writer& w) -> Status {
    TB_RETURN_IF_ERROR(w.append(first, "S01-20261102-900001", e, "clerk", w.now()));
    return Status::Unavailable("a failure after the append");
  });
  CHECK_FALSE(failed.ok());
  CaseState again;
  REQUIRE(f.store
              .write([&](NodeStore::Writer& w) {
                return w.append(again, "S01-20261102-900001", e, "clerk", w.now());
              })
              .ok());
  // A new store has no cache: the key must be in the table.
  f.owned.reset();
  auto reopened = f.open_store();
  auto loaded = reopened->load_case("S01-20261102-900001");
  REQUIRE(loaded.ok());
  CHECK(loaded->applicant.name() == "回滚甲");
  // And the log holds only ciphertext of the name.
  auto events = reopened->case_events("S01-20261102-900001");
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(events->front().body.find("回滚甲") == std::string::npos);
}
