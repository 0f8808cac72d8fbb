// A node's clock stepped back under it (NTP correcting a fast clock, a wrong manual
// setting), with libfaketime loaded into the real daemon: event times never go backwards
// in its log, and neither case numbers nor deadlines are dated from the day before.
#include <catch2/catch.hpp>
#include <fstream>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// libfaketime re-reads this file on every clock call (FAKETIME_NO_CACHE): "@T" runs the
// clock from T (UTC here) from the moment the process started.
void set_clock(const std::filesystem::path& file, const std::string& utc) {
  std::ofstream(file, std::ios::trunc) << "@" << utc << "\n";
}

}  // namespace

TEST_CASE("a node clock stepped back an hour neither reorders events nor dates from the day before",
          "[integration][node][clock]") {
  REQUIRE(std::filesystem::exists(kFaketime));  // tools/deps.sh installs libfaketime
  NodeHarness node("S01");
  const auto spec = node.config().parent_path() / "faketime";
  // 00:20 on 2 Dec 2026 in Beijing (16:20 UTC on 1 Dec): just past midnight.
  set_clock(spec, "2026-12-01 16:20:00");
  node.set_env({std::string("LD_PRELOAD=") + kFaketime, "FAKETIME_TIMESTAMP_FILE=" + spec.string(),
                "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1", "TZ=UTC"});
  node.start();
  const std::string clerk = node.login("clerk");
  const std::string before = submit(node, clerk, 1);
  CHECK(before.find("-20261202-") != std::string::npos);
  const json first = node.get(clerk, "/api/v1/cases/" + before).body;
  REQUIRE(first["accepted_date"] == "2026-12-02");
  const HttpReply waiting =
      node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"}, resident_id(3)));
  REQUIRE(waiting.status == 201);
  const std::string pending = waiting.body["case_id"];

  set_clock(spec, "2026-12-01 15:20:00");  // back an hour: 23:20 on 1 Dec in Beijing
  const std::string after = submit(node, clerk, 2);
  const json second = node.get(clerk, "/api/v1/cases/" + after).body;
  CHECK(after.find("-20261202-") != std::string::npos);  // not numbered in 1 Dec's series
  CHECK(second["accepted_date"] == "2026-12-02");
  CHECK(second["clock"]["deadline"] == first["clock"]["deadline"]);
  CHECK(second["created_at"].get<std::string>() >= first["updated_at"].get<std::string>());
  // Accepting a case submitted before the step dates the acceptance on the later day.
  REQUIRE(node.post(clerk, "/api/v1/cases/" + pending + "/accept", json::object()).status == 200);
  CHECK(node.get(clerk, "/api/v1/cases/" + pending).body["accepted_date"] == "2026-12-02");
  node.stop();

  Db db = open_db(node.data() / "node.db");
  auto stmt = db.prepare("SELECT seq, ts FROM events WHERE origin='S01' ORDER BY seq");
  REQUIRE(stmt.ok());
  int64_t last = 0, events = 0;
  for (;;) {
    auto row = stmt->step();
    REQUIRE(row.ok());
    if (!*row) break;
    INFO("seq " << stmt->int_at(0));
    CHECK(stmt->int_at(1) >= last);
    last = stmt->int_at(1);
    ++events;
  }
  CHECK(events >= 6);
}
