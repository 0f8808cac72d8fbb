#include "tongban/shared/case.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"
#include "tongban/shared/case_json.h"

using namespace tongban;

namespace {

// Drives one case through decide + evolve, as the node does.
struct CaseDriver {
  CaseState state;
  DecideContext ctx;
  std::vector<pb::CaseEvent> log;
  std::string actor;  // who runs the next commands (stored beside the events)

  explicit CaseDriver(Timestamp now, SiteKind kind = SiteKind::kCenter) {
    ctx.now = now;
    ctx.catalog = &test::sample_district().catalog;
    ctx.calendar = &test::sample_district().calendar;
    ctx.site_id = "S01";
    ctx.site_kind = kind;
    state.case_id = "S01-1";
    state.origin = "S01";
  }

  Status run(const Command& c) {
    auto events = decide(state, c, ctx);
    if (!events.ok()) return events.status();
    for (const pb::CaseEvent& e : *events) {
      evolve(state, e, EventMeta{"S01-1", "S01", ctx.now, actor});
      log.push_back(e);
    }
    return Status::Ok();
  }
  void on(int y, int m, int d) { ctx.now = test::at(y, m, d); }
  Date today() const { return date_of(ctx.now); }
};

pb::Applicant resident() {
  pb::Applicant a;
  a.set_name("张三");
  a.set_id_number("11010519491231002X");
  a.set_phone("13912345678");
  return a;
}

ApplicationInput application(const std::string& item, std::vector<std::string> provided) {
  ApplicationInput in;
  in.item_code = item;
  in.applicant = resident();
  in.provided = std::move(provided);
  return in;
}

Date d(int y, int m, int day) { return date_from_ymd(y, m, day); }

// Valid resident ID numbers (region 110105) of residents born on the dates they say.
constexpr const char* kBorn1990 = "110105199001011232";          // 1990-01-01, a man
constexpr const char* kBornMay1940 = "110105194005010015";       // 1940-05-01, a man
constexpr const char* kBornNov1946Woman = "110105194611030024";  // 1946-11-03, a woman

}  // namespace

TEST_CASE("a complete application is accepted, reviewed and approved with a license",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), std::nullopt}).ok());
  CHECK(c.state.status == CaseStatus::kSubmitted);
  REQUIRE(c.run(Accept{}).ok());
  REQUIRE(c.run(StartReview{}).ok());
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  CHECK(c.state.status == CaseStatus::kApproved);
  CHECK(c.log.back().has_license_issued());
  CHECK(c.state.license_payload.find("\"issuer_site\":\"S01\"") != std::string::npos);
  REQUIRE(c.run(Deliver{"window", ""}).ok());
  CHECK(c.state.status == CaseStatus::kDelivered);
}

TEST_CASE("transitions the state does not allow are refused and change nothing", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  CHECK(c.run(Accept{}).code() == StatusCode::kConflict);  // no such case
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), std::nullopt}).ok());
  const Status s = c.run(DecideCase{true, "", ""});
  CHECK(s.code() == StatusCode::kConflict);
  CHECK(s.message_zh().find("待受理") != std::string::npos);
  CHECK(c.run(Deliver{"window", ""}).code() == StatusCode::kConflict);
  CHECK(c.state.status == CaseStatus::kSubmitted);
  CHECK(c.log.size() == 1);
}

TEST_CASE("bad input is rejected before any event", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  auto app = application("RS001", {"ID"});
  app.applicant.set_id_number("110105194912310021");
  CHECK(c.run(Submit{app, std::nullopt}).reason() == "invalid_id_number");
  CHECK(c.run(Submit{application("NOPE", {}), std::nullopt}).code() == StatusCode::kNotFound);
  CHECK(c.run(Submit{application("RS001", {"NOT_A_MATERIAL"}), std::nullopt}).reason() ==
        "unknown_material");
  auto phone = application("RS001", {"ID"});
  phone.applicant.set_phone("12345");
  CHECK(c.run(Submit{phone, std::nullopt}).reason() == "invalid_phone");
  auto committed = application("RS001", {"ID"});
  committed.committed = {"PHOTO"};  // a photo cannot be replaced by a commitment
  CHECK(c.run(Submit{committed, std::nullopt}).reason() == "commitment_not_allowed");
  CHECK(c.log.empty());
}

TEST_CASE("missing required materials block acceptance without 容缺 or a commitment",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("GA002", {"ID", "PHOTO"}), std::nullopt}).ok());
  const Status s = c.run(Accept{});
  CHECK(s.reason() == "materials_missing");
  CHECK(s.message_zh().find("居住证明") != std::string::npos);
}

TEST_CASE("告知承诺: a signed commitment stands in for a proof", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  auto app = application("GA002", {"ID", "PHOTO"});
  app.committed = {"RESIDENCE"};
  REQUIRE(c.run(Submit{app, AcceptInput{}}).ok());
  CHECK(c.state.status == CaseStatus::kAccepted);
  CHECK(c.state.materials.back().status == "committed");
}

TEST_CASE(
    "missing materials are told once (一次性告知), and supplying them reopens the answer period",
    "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("GA002", {"ID"}), std::nullopt}).ok());
  REQUIRE(c.run(RequestMaterials{{"PHOTO", "RESIDENCE"}, "请补交"}).ok());
  CHECK(c.state.status == CaseStatus::kAwaitingMaterials);
  c.on(2026, 11, 4);
  CHECK(c.run(RequestMaterials{{"PHOTO"}, ""}).code() == StatusCode::kConflict);
  REQUIRE(c.run(SupplyMaterials{{"PHOTO", "RESIDENCE"}, {}}).ok());
  CHECK(c.state.status == CaseStatus::kSubmitted);
  CHECK(c.state.submitted_date == d(2026, 11, 4));
  CHECK(c.run(RequestMaterials{{"PHOTO"}, ""}).reason() == "already_notified_once");
  REQUIRE(c.run(Accept{}).ok());
}

TEST_CASE("issue 8: a notice naming only some missing materials still names all of them",
          "[shared][case][issue8]") {
  // GA002 needs ID, PHOTO and RESIDENCE; only the ID came. A notice of PHOTO alone once left
  // the case stuck: accept wanted RESIDENCE, a second notice was refused, supply had nothing
  // to answer.
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("GA002", {"ID"}), std::nullopt}).ok());
  CHECK(c.run(RequestMaterials{{"NOT_A_MATERIAL"}, ""}).reason() == "unknown_material");
  CHECK(c.run(RequestMaterials{{"ID"}, ""}).reason() == "material_not_missing");
  REQUIRE(c.run(RequestMaterials{{"PHOTO"}, "请补交照片"}).ok());
  CHECK(c.state.requested_missing == std::vector<std::string>{"PHOTO", "RESIDENCE"});
  REQUIRE(c.log.back().has_materials_requested());
  CHECK(c.log.back().materials_requested().missing_size() == 2);
  c.on(2026, 11, 3);
  REQUIRE(c.run(SupplyMaterials{{"PHOTO", "RESIDENCE"}, {}}).ok());
  REQUIRE(c.run(Accept{}).ok());
  CHECK(c.state.status == CaseStatus::kAccepted);
}

TEST_CASE("一次性告知 with no list names every missing material and nothing missing is no notice",
          "[shared][case][issue8]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("GA002", {"ID"}), std::nullopt}).ok());
  REQUIRE(c.run(RequestMaterials{{}, ""}).ok());
  CHECK(c.state.requested_missing == std::vector<std::string>{"PHOTO", "RESIDENCE"});

  // GA003's PURPOSE is optional: named, it joins the notice; otherwise nothing is missing.
  CaseDriver complete(test::at(2026, 11, 2));
  REQUIRE(complete.run(Submit{application("GA003", {"ID"}), std::nullopt}).ok());
  CHECK(complete.run(RequestMaterials{{}, ""}).reason() == "nothing_missing");
  REQUIRE(complete.run(RequestMaterials{{"PURPOSE"}, ""}).ok());
  CHECK(complete.state.requested_missing == std::vector<std::string>{"PURPOSE"});
}

TEST_CASE("an application unanswered for 5 working days counts as accepted (art. 32)",
          "[shared][case]") {
  // Submitted Wed 2026-09-30: the five working days are Oct 8, 9, 10 (adjusted Saturday),
  // 12 and 13; from Oct 14 it counts as accepted from the day it was received.
  CaseDriver c(test::at(2026, 9, 30));
  REQUIRE(c.run(Submit{application("GA002", {"ID"}), std::nullopt}).ok());
  const auto& cal = test::sample_district().calendar;
  CHECK(deemed_acceptance_date(c.state, cal) == d(2026, 10, 13));
  CHECK_FALSE(is_deemed_accepted(c.state, d(2026, 10, 13), cal));
  CHECK(is_deemed_accepted(c.state, d(2026, 10, 14), cal));
  c.on(2026, 10, 14);
  CHECK(c.run(RequestMaterials{{"PHOTO"}, ""}).reason() == "deemed_accepted");
  CHECK(c.run(Refuse{"材料不全"}).reason() == "deemed_accepted");
  const auto json = case_to_json(c.state, c.today(), cal, 2);
  CHECK(json["deemed_accepted"] == true);
  REQUIRE(c.run(Sweep{}).ok());
  CHECK(c.state.status == CaseStatus::kAccepted);
  CHECK(c.state.deemed_accepted);
  CHECK(c.state.accepted_date == d(2026, 9, 30));
}

TEST_CASE("容缺受理: non-key materials may be missing with a signed commitment and a deadline",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("YB002", {"ID", "INVOICE"}), std::nullopt}).ok());
  CHECK(c.run(Accept{{{"EXPENSE_LIST", "DISCHARGE", "BANK"}, false, 5}}).reason() ==
        "commitment_required");
  CHECK(c.run(Accept{{{"EXPENSE_LIST", "DISCHARGE", "BANK"}, true, 0}}).reason() ==
        "invalid_supply_days");
  REQUIRE(c.run(Accept{{{"EXPENSE_LIST", "DISCHARGE", "BANK"}, true, 5}}).ok());
  CHECK(c.state.status == CaseStatus::kAccepted);
  CHECK(c.state.supply_deadline == d(2026, 11, 9));
  CHECK(c.run(DecideCase{true, "", ""}).reason() == "tolerated_outstanding");
  REQUIRE(c.run(SupplyMaterials{{"EXPENSE_LIST", "DISCHARGE", "BANK"}, {}}).ok());
  CHECK(c.state.tolerated.empty());
  CHECK_FALSE(c.state.supply_deadline);
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
}

TEST_CASE("容缺 is never allowed for key materials or items that do not allow it",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("YB002", {"ID"}), std::nullopt}).ok());
  CHECK(c.run(Accept{{{"INVOICE", "EXPENSE_LIST", "DISCHARGE", "BANK"}, true, 5}}).reason() ==
        "key_material_missing");
  CaseDriver other(test::at(2026, 11, 2));
  REQUIRE(other.run(Submit{application("RS001", {"ID"}), std::nullopt}).ok());
  CHECK(other.run(Accept{{{"PHOTO"}, true, 5}}).reason() == "tolerance_not_allowed");
}

TEST_CASE("a missed 容缺 deadline terminates the case and bars the applicant from 容缺",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("YB002", {"ID", "INVOICE", "BANK"}), std::nullopt}).ok());
  REQUIRE(c.run(Accept{{{"EXPENSE_LIST", "DISCHARGE"}, true, 3}}).ok());
  c.on(2026, 11, 5);  // deadline day itself: still in time
  REQUIRE(c.run(Sweep{}).ok());
  CHECK(c.state.status == CaseStatus::kAccepted);
  c.on(2026, 11, 6);
  REQUIRE(c.run(Sweep{}).ok());
  CHECK(c.state.status == CaseStatus::kTerminated);
  CHECK(c.state.broke_commitment);

  CaseDriver again(test::at(2026, 11, 10));
  again.ctx.applicant_broke_commitment = true;
  REQUIRE(again.run(Submit{application("YB002", {"ID", "INVOICE", "BANK"}), std::nullopt}).ok());
  CHECK(again.run(Accept{{{"EXPENSE_LIST", "DISCHARGE"}, true, 3}}).reason() ==
        "tolerance_ineligible");
}

TEST_CASE("suspension stops the clock and resuming extends the deadline", "[shared][case]") {
  const auto& cal = test::sample_district().calendar;
  CaseDriver c(test::at(2026, 11, 2));  // Monday
  REQUIRE(c.run(Submit{application("RS004", {"ID", "SEPARATION", "BANK"}), AcceptInput{}}).ok());
  CHECK(clock_of(c.state, c.today(), cal, 2).deadline == d(2026, 11, 9));  // 5 working days
  c.on(2026, 11, 3);
  REQUIRE(c.run(Suspend{"expert_review", "专家评审"}).ok());
  c.on(2026, 11, 6);
  CHECK(clock_of(c.state, c.today(), cal, 2).color == ClockColor::kPaused);
  REQUIRE(c.run(Resume{"评审完毕"}).ok());
  // Suspended on Nov 3 and 4 and 5, worked again on the 6th: three working days added.
  const ClockView v = clock_of(c.state, c.today(), cal, 2);
  CHECK(v.deadline == d(2026, 11, 12));
  CHECK(v.color == ClockColor::kNormal);
  CHECK(c.run(Suspend{"coffee", ""}).reason() == "invalid_reason");
}

namespace {

// The deadline of an RS004 case (5 working days) accepted on `accepted`, suspended on
// `from` and resumed on `to` (or still suspended on `today` when `to` is unset).
std::optional<Date> deadline_after_pause(Date accepted, Date from, std::optional<Date> to,
                                         Date today) {
  CaseState s;
  s.status = to ? CaseStatus::kInReview : CaseStatus::kSuspended;
  s.accepted_date = accepted;
  s.promised_days = 5;
  s.pauses.push_back({"testing", from, to});
  return clock_of(s, today, test::sample_district().calendar, 2).deadline;
}

}  // namespace

TEST_CASE("issue 8: a suspension gives back the working days suspended and not the resume day",
          "[shared][case][issue8]") {
  // Accepted Monday 2026-11-02: without a pause the deadline is Monday 11-09.
  const Date mon = d(2026, 11, 2), tue = d(2026, 11, 3), wed = d(2026, 11, 4),
             thu = d(2026, 11, 5), fri = d(2026, 11, 6), sat = d(2026, 11, 7),
             next_mon = d(2026, 11, 9);
  // Suspended Tuesday, resumed Thursday: Tuesday and Wednesday given back, Thursday counts.
  CHECK(deadline_after_pause(mon, tue, thu, thu) == d(2026, 11, 11));
  // Still suspended on Thursday: the deadline resuming that day would give.
  CHECK(deadline_after_pause(mon, tue, std::nullopt, thu) == d(2026, 11, 11));
  // Suspended on the day of acceptance, resumed Wednesday: only Tuesday was lost (the start
  // day never counted); this landed a day late, on 11-11.
  CHECK(deadline_after_pause(mon, mon, wed, wed) == d(2026, 11, 10));
  // Suspended on a Saturday (a 5+2 site), resumed Monday: no working day was lost; this
  // gave back the Monday it was resumed on.
  CHECK(deadline_after_pause(mon, sat, next_mon, next_mon) == next_mon);
  // Suspended Friday, resumed Monday: Friday given back.
  CHECK(deadline_after_pause(mon, fri, next_mon, next_mon) == d(2026, 11, 10));
  // Suspended and resumed the same day: nothing given back.
  CHECK(deadline_after_pause(mon, wed, wed, wed) == next_mon);
}

TEST_CASE("the clock turns yellow near the deadline and red after it", "[shared][case]") {
  const auto& cal = test::sample_district().calendar;
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS004", {"ID", "SEPARATION", "BANK"}), AcceptInput{}}).ok());
  CHECK(clock_of(c.state, d(2026, 11, 4), cal, 2).color == ClockColor::kNormal);
  CHECK(clock_of(c.state, d(2026, 11, 5), cal, 2).color == ClockColor::kYellow);
  CHECK(clock_of(c.state, d(2026, 11, 9), cal, 2).color == ClockColor::kYellow);
  const ClockView red = clock_of(c.state, d(2026, 11, 11), cal, 2);
  CHECK(red.color == ClockColor::kRed);
  CHECK(red.remaining_working_days == -2);
}

TEST_CASE("a deadline in an unpublished year is flagged", "[shared][case]") {
  const auto& cal = test::sample_district().calendar;
  auto with_commitments = application("ZJ001", {"ID", "HKB", "LABOR_CONTRACT"});
  with_commitments.committed = {"INCOME", "NO_HOUSE"};
  CaseDriver c2(test::at(2026, 12, 21));
  REQUIRE(c2.run(Submit{with_commitments, AcceptInput{}}).ok());
  const ClockView v = clock_of(c2.state, c2.today(), cal, 2);
  CHECK(v.unpublished_year);
  CHECK(clock_to_json(v).contains("calendar_note"));
}

TEST_CASE("秒批: an item's instant rule approves at acceptance", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  auto app = application("MZ001", {"ID", "HKB", "BANK"});
  app.applicant.set_id_number(kBornMay1940);
  app.form = {{"age", "86"}, {"hukou_local", "yes"}};
  REQUIRE(c.run(Submit{app, AcceptInput{}}).ok());
  CHECK(c.state.status == CaseStatus::kApproved);
  CHECK(c.state.instant);
  CHECK(c.log.back().has_license_issued());

  CaseDriver young(test::at(2026, 11, 2));
  app.applicant = resident();  // born 1949-12-31: 76
  app.form = {{"age", "76"}, {"hukou_local", "yes"}};
  REQUIRE(young.run(Submit{app, AcceptInput{}}).ok());
  CHECK(young.state.status == CaseStatus::kAccepted);
}

TEST_CASE("issue 8: 秒批 reads the age from the resident ID number and not the typed form",
          "[shared][case][issue8]") {
  // 高龄津贴 (MZ001) is approved at once from age 80: a typed "age: 85" once approved it for
  // a resident born in 1990.
  auto app = application("MZ001", {"ID", "HKB", "BANK"});
  app.applicant.set_id_number(kBorn1990);
  app.form = {{"age", "85"}, {"hukou_local", "yes"}};
  CaseDriver typed(test::at(2026, 11, 2));
  const Status refused = typed.run(Submit{app, AcceptInput{}});
  CHECK(refused.code() == StatusCode::kInvalidArgument);
  CHECK(refused.reason() == "form_contradicts_id");
  CHECK(refused.message_zh().find("身份证") != std::string::npos);
  CHECK(refused.message_en().find("'36'") != std::string::npos);
  CHECK(typed.log.empty());

  // Without a typed age the rule still reads it, from the number: 36, no instant approval.
  app.form = {{"hukou_local", "yes"}};
  CaseDriver untyped(test::at(2026, 11, 2));
  REQUIRE(untyped.run(Submit{app, AcceptInput{}}).ok());
  CHECK(untyped.state.status == CaseStatus::kAccepted);
  CHECK_FALSE(untyped.state.instant);

  // An 86-year-old who typed no age is approved at once.
  app.applicant.set_id_number(kBornMay1940);
  CaseDriver elderly(test::at(2026, 11, 2));
  REQUIRE(elderly.run(Submit{app, AcceptInput{}}).ok());
  CHECK(elderly.state.status == CaseStatus::kApproved);
  CHECK(elderly.state.instant);
}

TEST_CASE("a typed age or sex is checked against the ID number on the day of submission",
          "[shared][case][issue8]") {
  // Born 1946-11-03 (a woman: the 17th digit is even): 79 on 2026-11-02, 80 the day after.
  auto app = application("MZ001", {"ID", "HKB", "BANK"});
  app.applicant.set_id_number(kBornNov1946Woman);
  app.form = {{"age", "80"}, {"hukou_local", "yes"}};
  CaseDriver eve(test::at(2026, 11, 2));
  CHECK(eve.run(Submit{app, AcceptInput{}}).reason() == "form_contradicts_id");
  app.form = {{"age", "79"}, {"hukou_local", "yes"}, {"sex", "女"}};
  REQUIRE(eve.run(Submit{app, AcceptInput{}}).ok());
  CHECK(eve.state.status == CaseStatus::kAccepted);

  app.form = {{"age", "80"}, {"hukou_local", "yes"}, {"sex", "female"}};
  CaseDriver birthday(test::at(2026, 11, 3));
  REQUIRE(birthday.run(Submit{app, AcceptInput{}}).ok());
  CHECK(birthday.state.status == CaseStatus::kApproved);

  app.form = {{"sex", "male"}};
  CaseDriver sex(test::at(2026, 11, 3));
  CHECK(sex.run(Submit{app, std::nullopt}).reason() == "form_contradicts_id");
  app.form = {{"gender", "M"}};
  CHECK(sex.run(Submit{app, std::nullopt}).reason() == "form_contradicts_id");
  app.form = {{"region", "310101"}};
  CHECK(sex.run(Submit{app, std::nullopt}).reason() == "form_contradicts_id");
  app.form = {{"birth_date", "1946-11-04"}};
  CHECK(sex.run(Submit{app, std::nullopt}).reason() == "form_contradicts_id");
  app.form = {{"birth_date", "1946-11-03"}, {"region", "110105"}, {"gender", "F"}};
  REQUIRE(sex.run(Submit{app, std::nullopt}).ok());
}

TEST_CASE("一件事: a bundle completes when every part is decided", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  auto app =
      application("BZ001", {"PARENT_ID", "DELIVERY_RECORD", "BIRTH_CERT", "HKB", "ID", "PHOTO"});
  app.committed = {"MARRIAGE"};
  REQUIRE(c.run(Submit{app, AcceptInput{}}).ok());
  REQUIRE(c.state.parts.size() == 4);
  CHECK(c.run(DecideCase{true, "", ""}).reason() == "unknown_part");
  REQUIRE(c.run(DecideCase{true, "", "WJ001"}).ok());
  CHECK(c.state.status == CaseStatus::kInReview);
  CHECK(c.run(DecideCase{true, "", "WJ001"}).reason() == "part_decided");
  REQUIRE(c.run(DecideCase{true, "", "GA001"}).ok());
  REQUIRE(c.run(DecideCase{false, "已在外地参保", "YB001"}).ok());
  CHECK(c.state.status == CaseStatus::kInReview);
  REQUIRE(c.run(DecideCase{true, "", "RS003"}).ok());
  CHECK(c.state.status == CaseStatus::kApproved);
  REQUIRE(c.log.back().has_license_issued());
  CHECK(c.state.license_payload.find("YB001") ==
        std::string::npos);  // the denied part has no license
  CHECK(c.state.license_payload.find("RS003") != std::string::npos);
}

TEST_CASE("代办: an agent cannot submit without the resident's authorisation", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  auto app = application("MZ001", {"ID", "HKB", "BANK"});
  app.agent = "agent01";
  CHECK(c.run(Submit{app, std::nullopt}).reason() == "agent_not_authorized");
  pb::Authorization auth;
  auth.set_document_no("WT-2026-001");
  auth.set_signed_date("2026-11-01");
  auth.set_priority_group("elderly");
  app.authorization = auth;
  REQUIRE(c.run(Submit{app, std::nullopt}).ok());
  CHECK(c.state.agent == "agent01");
}

TEST_CASE("an agent point may accept but not decide an item reserved to centers",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2), SiteKind::kAgentPoint);
  REQUIRE(c.run(Submit{application("RS002", {"ID", "HKB"}), AcceptInput{}}).ok());
  CHECK(c.run(DecideCase{true, "", ""}).reason() == "not_decidable_here");
}

TEST_CASE("好差评: a bad rating opens a callback due in 1 working day and rectification in 15",
          "[shared][case]") {
  CaseDriver c(test::at(2026, 9, 30));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  CHECK(c.run(Rate{6, ""}).reason() == "invalid_level");
  CHECK(c.run(Rate{0, ""}).reason() == "invalid_level");
  REQUIRE(c.run(Rate{2, "等待时间太长"}).ok());  // 2 不满意 (national scale): a 差评
  CHECK(c.state.rating->bad());
  REQUIRE(c.state.rating);
  CHECK(c.state.rating->callback_due == d(2026, 10, 8));  // over National Day
  CHECK(c.state.rating->rectify_due ==
        test::sample_district().calendar.add_working_days(d(2026, 9, 30), 15));
  CHECK(c.run(Rate{5, ""}).reason() == "already_rated");
  CHECK(c.run(RecordRectification{"整改"}).reason() == "no_open_rectification");
  REQUIRE(c.run(RecordCallback{"已电话回访"}).ok());
  REQUIRE(c.run(RecordRectification{"增加窗口"}).ok());
  CHECK(c.state.rating->rectified);
}

TEST_CASE("好差评: an appeal holds rectification and only the hub decides it", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  REQUIRE(c.run(Rate{1, ""}).ok());
  CHECK(c.run(AppealRating{"窗口录像显示服务规范，系恶意差评"}).reason() == "not_appealable");
  REQUIRE(c.run(RecordCallback{"已电话回访"}).ok());
  CHECK(c.run(AppealRating{""}).reason() == "missing_field");
  CHECK(c.run(AppealRating{"恶意差评"}).reason() == "evidence_required");
  REQUIRE(c.run(AppealRating{"窗口录像显示服务规范，系恶意差评"}).ok());
  CHECK(c.state.rating->appeal_pending());
  CHECK(c.run(RecordRectification{"增加窗口"}).reason() == "appeal_pending");
  CHECK(c.run(AppealRating{"窗口录像显示服务规范，系恶意差评"}).reason() == "not_appealable");

  pb::CaseEvent decided;
  decided.mutable_rating_appeal_decided()->set_upheld(true);
  decided.mutable_rating_appeal_decided()->set_reason("录像证实");
  decided.mutable_rating_appeal_decided()->set_decided_date(c.today().days);
  // A site signing the hub's decision is a forgery: a conflict, nothing applied.
  CaseState forged = c.state;
  evolve(forged, decided, EventMeta{"S01-1", "S01", c.ctx.now, "reviewer"});
  CHECK(forged.conflict_open);
  CHECK(forged.rating->appeal_pending());
  CHECK(!forged.rating->excluded());
  // The hub's: upheld, out of the rankings, no rectification owed, the loop closed.
  evolve(c.state, decided, EventMeta{"S01-1", "HUB", c.ctx.now, "supervisor"});
  CHECK(!c.state.conflict_open);
  CHECK(c.state.rating->excluded());
  CHECK(!c.state.rating->rectification_owed());
  CHECK(c.state.rating->loop_closed());
  CHECK(c.run(RecordRectification{"增加窗口"}).reason() == "no_open_rectification");
  CHECK(c.run(Rate{5, ""}).reason() == "already_rated");
}

TEST_CASE("好差评: a rectified 差评 is rated again once (追评)", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  REQUIRE(c.run(Rate{2, "等待太久"}).ok());
  CHECK(!c.state.rating->follow_up_due());
  REQUIRE(c.run(RecordCallback{"已电话回访"}).ok());
  CHECK(c.run(Rate{4, ""}).reason() == "already_rated");  // not before rectification
  REQUIRE(c.run(RecordRectification{"增设窗口"}).ok());
  CHECK(c.state.rating->follow_up_due());
  REQUIRE(c.run(Rate{4, "明显改善"}).ok());
  CHECK(c.state.rating->level == 2);  // the first rating stands
  CHECK(c.state.rating->follow_up_level == 4);
  CHECK(c.state.rating->loop_closed());
  CHECK(c.run(Rate{5, ""}).reason() == "already_rated");
}

TEST_CASE("好差评: ratings before the national scale are read on it", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  CaseState old = c.state;
  pb::CaseEvent e;
  e.mutable_rated()->set_level(4);  // scale 0: 4 meant 不满意
  e.mutable_rated()->set_rated_date(d(2026, 11, 2).days);
  evolve(old, e, EventMeta{"S01-9", "S01", c.ctx.now});
  REQUIRE(old.rating);
  CHECK(old.rating->level == 2);
  CHECK(old.rating->bad());
  Rate bad_indicator{5, ""};
  bad_indicator.indicators = {{"efficiency", 6}};
  CHECK(c.run(bad_indicator).reason() == "invalid_indicator");
  Rate rate{5, "很好"};
  rate.channel = "qr";
  rate.indicators = {{"attitude", 5}, {"efficiency", 4}};
  REQUIRE(c.run(rate).ok());
  CHECK(c.state.rating->channel == "qr");
  CHECK(c.state.rating->indicators.size() == 2);
  CHECK_FALSE(c.state.rating->bad());
}

TEST_CASE("a good rating opens nothing", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  REQUIRE(c.run(Rate{3, "基本满意"}).ok());  // 3 基本满意 is no 差评
  CHECK_FALSE(c.state.rating->bad());
  CHECK_FALSE(c.state.rating->callback_due);
  CHECK(c.run(RecordCallback{"x"}).reason() == "no_open_callback");
}

TEST_CASE("预审: the outcome is told once, then the application is submitted", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(StartPreReview{application("GA002", {"ID"})}).ok());
  CHECK(c.state.status == CaseStatus::kPreReview);
  CHECK(c.run(RecordPreReviewOutcome{false, {}, ""}).reason() == "missing_field");
  REQUIRE(
      c.run(RecordPreReviewOutcome{false, {"PHOTO", "RESIDENCE"}, "请携带照片和居住证明"}).ok());
  CHECK(c.run(RecordPreReviewOutcome{true, {}, ""}).code() == StatusCode::kConflict);
  REQUIRE(c.run(Submit{application("GA002", {"ID", "PHOTO", "RESIDENCE"}), AcceptInput{}}).ok());
  CHECK(c.state.status == CaseStatus::kAccepted);
}

TEST_CASE("issue 8: notes staff wrote are in the case view in event order with who and when",
          "[shared][case][issue8]") {
  CaseDriver c(test::at(2026, 11, 2));
  c.actor = "reviewer";
  REQUIRE(c.run(StartPreReview{application("GA002", {"ID"})}).ok());
  REQUIRE(c.run(RecordPreReviewOutcome{false, {"PHOTO"}, "请携带照片"}).ok());
  c.actor = "clerk";
  REQUIRE(c.run(Submit{application("GA002", {"ID"}), std::nullopt}).ok());
  REQUIRE(c.run(RequestMaterials{{}, "请补交照片和居住证明"}).ok());
  REQUIRE(c.run(SupplyMaterials{{"PHOTO", "RESIDENCE"}, {}}).ok());
  REQUIRE(c.run(Accept{}).ok());
  c.actor = "reviewer";
  REQUIRE(c.run(StartReview{}).ok());
  c.on(2026, 11, 3);
  REQUIRE(c.run(Suspend{"expert_review", "送专家评审"}).ok());
  c.on(2026, 11, 5);
  REQUIRE(c.run(Resume{""}).ok());  // a blank note is no note
  REQUIRE(c.run(DecideCase{true, "", ""}).ok());
  // The 好差评 loop's records, as the events carry them.
  pb::CaseEvent rated, callback, rectified;
  rated.mutable_rated()->set_comment("等待太久");
  callback.mutable_callback_done()->set_note("已电话回访");
  rectified.mutable_rectified()->set_note("增设窗口");
  for (const pb::CaseEvent* e : {&rated, &callback, &rectified})
    evolve(c.state, *e, EventMeta{"S01-1", "S01", test::at(2026, 11, 6), "admin"});

  const auto json = case_to_json(c.state, d(2026, 11, 6), test::sample_district().calendar, 2);
  REQUIRE(json["notes"].size() == 5);
  const std::vector<std::string> kinds = {"prereview", "notice", "suspension", "callback",
                                          "rectification"};
  for (size_t i = 0; i < kinds.size(); ++i) CHECK(json["notes"][i]["kind"] == kinds[i]);
  CHECK(json["notes"][0]["text"] == "请携带照片");
  CHECK(json["notes"][0]["kind_zh"] == "预审意见");
  CHECK(json["notes"][0]["by"] == "reviewer");
  CHECK(json["notes"][1]["text"] == "请补交照片和居住证明");
  CHECK(json["notes"][1]["by"] == "clerk");
  CHECK(json["notes"][2]["text"] == "送专家评审");
  CHECK(json["notes"][2]["at"] == format_time(test::at(2026, 11, 3)));
  CHECK(json["notes"][4]["by"] == "admin");
  CHECK(json["prereview"]["missing"] == nlohmann::json{"PHOTO"});  // the old fields stay
}

TEST_CASE("a refusal or withdrawal reason is a note too", "[shared][case][issue8]") {
  CaseDriver refused(test::at(2026, 11, 2));
  REQUIRE(refused.run(Submit{application("RS001", {"ID"}), std::nullopt}).ok());
  REQUIRE(refused.run(Refuse{"不属于本机关职权范围"}).ok());
  REQUIRE(refused.state.notes.size() == 1);
  CHECK(refused.state.notes[0].kind == NoteKind::kRefusal);
  CHECK(refused.state.reason == "不属于本机关职权范围");
  CaseDriver withdrawn(test::at(2026, 11, 2));
  REQUIRE(withdrawn.run(Submit{application("RS001", {"ID"}), std::nullopt}).ok());
  REQUIRE(withdrawn.run(Withdraw{"申请人主动撤回"}).ok());
  REQUIRE(withdrawn.state.notes.size() == 1);
  CHECK(withdrawn.state.notes[0].kind == NoteKind::kWithdrawal);
  CHECK(withdrawn.state.notes[0].text == "申请人主动撤回");
}

TEST_CASE("withdrawal ends an open case and refusal needs a reason", "[shared][case]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID"}), std::nullopt}).ok());
  CHECK(c.run(Refuse{""}).reason() == "missing_field");
  REQUIRE(c.run(Withdraw{"申请人主动撤回"}).ok());
  CHECK(c.state.status == CaseStatus::kWithdrawn);
  CHECK(c.run(Withdraw{""}).code() == StatusCode::kConflict);
}

namespace {

pb::CaseEvent handed_over(const std::string& from, const std::string& to) {
  pb::CaseEvent e;
  e.mutable_handed_over()->set_from_site(from);
  e.mutable_handed_over()->set_to_site(to);
  e.mutable_handed_over()->set_mode("reassign");
  return e;
}

// Runs `command` as site `site` and applies its events with that origin.
Status run_at(CaseDriver& c, const std::string& site, const Command& command) {
  c.ctx.site_id = site;
  auto events = decide(c.state, command, c.ctx);
  if (!events.ok()) return events.status();
  for (const pb::CaseEvent& e : *events) evolve(c.state, e, EventMeta{"S01-1", site, c.ctx.now});
  return Status::Ok();
}

}  // namespace

TEST_CASE("ownership moves only by the hub's hand-over and the new owner takes the case first",
          "[shared][case][handover]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  CHECK(c.state.owner == "S01");
  evolve(c.state, handed_over("S01", "S02"), EventMeta{"S01-1", "HUB", c.ctx.now});
  CHECK(c.state.owner == "S02");
  CHECK(c.state.origin == "S01");
  CHECK(c.state.transfer == Transfer::kDispatched);

  CHECK(run_at(c, "S01", StartReview{}).reason() == "not_owner");
  CHECK(run_at(c, "S02", StartReview{}).reason() == "take_first");
  CHECK(run_at(c, "S03", TakeCase{}).reason() == "not_owner");
  REQUIRE(run_at(c, "S02", TakeCase{}).ok());
  CHECK(c.state.transfer == Transfer::kTaken);
  REQUIRE(run_at(c, "S02", StartReview{}).ok());
  REQUIRE(run_at(c, "S02", DecideCase{true, "", ""}).ok());
  // 收受分离: the receiving site hands the result out; others may not.
  CHECK(run_at(c, "S03", Deliver{"window", ""}).reason() == "not_owner");
  REQUIRE(run_at(c, "S01", Deliver{"window", ""}).ok());
  CHECK(c.state.status == CaseStatus::kDelivered);
  CHECK(c.state.conflicts.empty());
}

TEST_CASE("two sites deciding a moved case is a conflict kept apart from the state",
          "[shared][case][handover]") {
  CaseDriver c(test::at(2026, 11, 2));
  REQUIRE(c.run(Submit{application("RS001", {"ID", "PHOTO"}), AcceptInput{}}).ok());
  CaseState s02_view = c.state;  // what the hub held when it moved the case
  // S01, cut off, reviews and approves before hearing of the move.
  REQUIRE(run_at(c, "S01", StartReview{}).ok());
  REQUIRE(run_at(c, "S01", DecideCase{true, "", ""}).ok());
  evolve(c.state, handed_over("S01", "S02"), EventMeta{"S01-1", "HUB", c.ctx.now});
  CHECK(c.state.conflicts.empty());  // acts before hearing stand
  // S02 had taken and denied it from the state it was sent.
  evolve(s02_view, handed_over("S01", "S02"), EventMeta{"S01-1", "HUB", c.ctx.now});
  CaseDriver s02(test::at(2026, 11, 3));
  s02.state = s02_view;
  REQUIRE(run_at(s02, "S02", TakeCase{}).ok());
  REQUIRE(run_at(s02, "S02", StartReview{}).ok());
  REQUIRE(run_at(s02, "S02", DecideCase{false, "不符合条件", ""}).ok());
  CHECK(s02.state.status == CaseStatus::kDenied);

  // Merged in order: S02's review and decision no longer fit; both are kept as conflicts.
  pb::CaseEvent taken, review, denied;
  taken.mutable_taken();
  review.mutable_review_started();
  denied.mutable_decided()->set_approved(false);
  for (const pb::CaseEvent* e : {&taken, &review, &denied})
    evolve(c.state, *e, EventMeta{"S01-1", "S02", c.ctx.now});
  CHECK(c.state.status == CaseStatus::kApproved);
  CHECK(c.state.conflict_open);
  REQUIRE(c.state.conflicts.size() == 2);
  CHECK(c.state.conflicts[0].site == "S02");
  CHECK(c.state.conflicts[0].kind == "case.review_started");
  CHECK(run_at(c, "S02", Suspend{"correction", ""}).reason() == "conflict_open");

  pb::CaseEvent resolved;
  resolved.mutable_conflict_resolved()->set_reason("以先作出的决定为准");
  evolve(c.state, resolved, EventMeta{"S01-1", "HUB", c.ctx.now});
  CHECK(!c.state.conflict_open);
  // A site that heard of the move and released the case may not act on it again.
  pb::CaseEvent released;
  released.mutable_released()->set_to_site("S02");
  evolve(c.state, released, EventMeta{"S01-1", "S01", c.ctx.now});
  pb::CaseEvent license;
  license.mutable_license_issued()->set_license_no("X");
  evolve(c.state, license, EventMeta{"S01-1", "S01", c.ctx.now});
  CHECK(c.state.conflict_open);
  CHECK(c.state.conflicts.back().what_en.find("after it handed the case over") != std::string::npos);
}
