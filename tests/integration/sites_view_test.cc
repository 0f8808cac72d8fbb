// The operator's view of the district's links (GET /api/v1/sites): heartbeats keep an idle
// site's contact fresh, a dead one turns unreachable since its last contact, a number the
// hub cannot know is null rather than 0, and a head claim is believed only when signed.
#include <catch2/catch.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("the site board says connected or idle or unreachable since when and only what it can check",
          "[integration][sync][hub]") {
  LinkedDistrict d;
  HubHarness& hub = d.hub;
  NodeHarness& s01 = d.s01;
  NodeHarness s02(d.district, "S02");  // provisioned after the hub started: reload its keys
  const std::string op = hub.login("operator");
  REQUIRE(hub.post(op, "/api/v1/keys/reload", json::object()).status == 200);
  const auto site = [&](const std::string& id) { return site_row(hub, op, id); };

  const json never = site("S03");
  CHECK(never["link"] == "never");
  CHECK(never["last_contact"].is_null());
  CHECK(never["head_seq"].is_null());
  CHECK(never["events_behind"].is_null());

  submit(s01, s01.login("clerk"), 1);
  eventually([&] { return hub_held(hub, "S01") == s01.head_seq(); });
  eventually([&] { return site("S01")["link"] == "idle"; });
  json idle = site("S01");
  CHECK(idle["events_behind"] == 0);
  CHECK(idle["head_seq"] == s01.head_seq());
  // Nothing to send, yet heartbeats keep the contact fresh.
  const std::string first_contact = idle["last_contact"];
  std::this_thread::sleep_for(std::chrono::milliseconds(6500));
  idle = site("S01");
  CHECK(idle["link"] == "idle");
  CHECK(idle["last_contact"] != first_contact);
  CHECK(idle["since"].get<std::string>() <= first_contact);

  // Cut off with cases it has not sent: unreachable since its last contact, lag unknown.
  s01.stop();
  s01.set_hub("");
  s01.start();
  const std::string clerk = s01.login("clerk");
  for (int i = 2; i <= 11; ++i) submit(s01, clerk, i);
  s01.stop();
  eventually([&] { return site("S01")["link"] == "unreachable"; }, std::chrono::seconds(40));
  const json gone = site("S01");
  CHECK(gone["since"] == gone["last_contact"]);
  CHECK(gone["events_behind"].is_null());
  CHECK(gone["seconds_behind"].is_null());

  // S02 (provisioned, its real key) claims an absurd head without a valid signature.
  RawClient raw(hub.sync_endpoint(), hub_public_key(d.district), site_key(s02), "S02");
  pb::Envelope claim = hello("S02");
  claim.mutable_hello()->mutable_head()->set_seq(18422162518528899113ULL);
  claim.mutable_hello()->mutable_head()->set_hash(std::string(32, '\x01'));
  claim.mutable_hello()->mutable_head()->set_signature(std::string(64, '\x02'));
  raw.send(claim);
  const auto welcome = raw.recv();
  REQUIRE(welcome);
  CHECK(welcome->has_welcome());
  const json lied = site("S02");
  CHECK(lied["link"] == "connected");  // it speaks, but what it has is unknown
  CHECK(lied["head_seq"].is_null());
  CHECK(lied["events_behind"].is_null());

  // Back on the link: it catches up and is idle again with nothing behind.
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  eventually([&] { return hub_held(hub, "S01") == s01.head_seq(); });
  eventually([&] { return site("S01")["link"] == "idle"; });
  CHECK(site("S01")["events_behind"] == 0);
}
