// Bad input found by the hardening review: each gets a 4xx with a zh/en message and stores
// nothing; data files are private; a peer's junk does not flood the hub's log.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("the node refuses malformed fields, names and authorisations and stores nothing",
          "[integration][node][input]") {
  NodeHarness node;
  node.start();
  const std::string admin = node.login("admin"), clerk = node.login("clerk"),
                    agent = node.login("agent");
  REQUIRE(node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"})).status == 201);
  const uint64_t before = node.head_seq();
  // Non-string JSON fields where strings belong (these answered 500).
  expect_error(node.post("", "/api/v1/login", {{"username", 5}, {"password", "x"}}), 400, "invalid_field");
  expect_error(node.post("", "/api/v1/login", {{"username", "clerk"}, {"password", {1, 2}}}), 400,
         "invalid_field");
  expect_error(node.post(admin, "/api/v1/staff",
                   {{"username", "x1x"}, {"role", "clerk"}, {"display_name", true},
                    {"password", "long-enough-1"}}),
         400, "invalid_field");
  // A site admin cannot mint the hub's operator role.
  expect_error(node.post(admin, "/api/v1/staff",
                   {{"username", "op1"}, {"role", "operator"}, {"display_name", "x"},
                    {"password", "long-enough-1"}}),
         400, "invalid_role");
  // NUL and escape characters in a name; a 60 KB organisation on a person's item.
  json nul = application("RS001", {"ID", "PHOTO"});
  nul["applicant"]["name"] = std::string("张\0三", 4);
  expect_error(node.post(clerk, "/api/v1/cases", nul), 400, "invalid_field");
  json esc = application("RS001", {"ID", "PHOTO"});
  esc["applicant"]["name"] = "张\x1b[31m三";
  expect_error(node.post(clerk, "/api/v1/cases", esc), 400, "invalid_field");
  json big = application("RS001", {"ID", "PHOTO"});
  big["applicant"]["org_name"] = std::string(60 * 1024 / 2, 'x');
  expect_error(node.post(clerk, "/api/v1/cases", big), 400, "invalid_field");
  json person_org = application("RS001", {"ID", "PHOTO"});
  person_org["applicant"]["uscc"] = "x";
  expect_error(node.post(clerk, "/api/v1/cases", person_org), 400, "unexpected_field");
  json bad_uscc = application("RS001", {"ID", "PHOTO"});
  bad_uscc["applicant"]["enterprise"] = true;
  bad_uscc["applicant"]["uscc"] = "91610131MA6TXXXX0X";
  bad_uscc["applicant"]["org_name"] = "西安某公司";
  expect_error(node.post(clerk, "/api/v1/cases", bad_uscc), 400, "invalid_uscc");
  // issue 8: a typed age the ID number contradicts (born 1990, "85" for 高龄津贴 秒批).
  json old = application("MZ001", {"ID", "HKB", "BANK"}, "110105199001011232");
  old["form"] = {{"age", 85}, {"hukou_local", "yes"}};
  old["accept"] = json::object();
  expect_error(node.post(clerk, "/api/v1/cases", old), 400, "form_contradicts_id");
  // An agent's authorisation that is blank, or signed in 1900.
  json auth = application("MZ002", {"ID", "HKB", "AUTH_CHECK", "HOUSE_PROOF"});
  auth["committed"] = {"INCOME"};
  auth["authorization"] = {
      {"document_no", " "}, {"signed_date", "2026-01-05"}, {"priority_group", "elderly"}};
  expect_error(node.post(agent, "/api/v1/cases", auth), 422, "agent_not_authorized");
  auth["authorization"]["document_no"] = "WT-001";
  auth["authorization"]["signed_date"] = "1900-01-01";
  expect_error(node.post(agent, "/api/v1/cases", auth), 400, "invalid_authorization");
  // Query strings: a limit that is not a number is refused, not ignored.
  expect_error(node.get(clerk, "/api/v1/cases?limit=abc"), 400, "invalid_limit");
  expect_error(node.get(clerk, "/api/v1/cases?offset=-1"), 400, "invalid_offset");
  // Ids that name no case.
  expect_error(node.get(clerk, "/api/v1/cases/catalog"), 404, "not_found");
  CHECK(node.head_seq() == before);

  // Residents' data is private to the service's user.
  node.stop();
  for (const char* file : {"node.db", "site.key", "log.head"}) {
    struct stat st {};
    REQUIRE(::stat((node.data() / file).c_str(), &st) == 0);
    INFO(file);
    CHECK((st.st_mode & 0077) == 0);
  }
}

TEST_CASE("the hub refuses bad logins and catalogs, logs out, and keeps its log short",
          "[integration][hub][input]") {
  LinkedDistrict d;
  HubHarness& hub = d.hub;
  NodeHarness& s01 = d.s01;
  submit(s01, s01.login("clerk"), 1);
  eventually([&] { return hub_held(hub, "S01") == 2; });
  expect_error(hub.post("", "/api/v1/login", {{"username", json::array()}, {"password", "x"}}), 400,
         "invalid_field");
  const std::string op = hub.login("operator");
  const std::string toml = read_file(d.district.config() / "catalog.toml");
  std::string huge = toml;
  huge.replace(huge.find("version = 1"), 11, "version = 2147483647");
  expect_error(hub.post_raw(op, "/api/v1/catalog", huge, "text/plain"), 400, "invalid_config");
  expect_error(hub.post_raw(op, "/api/v1/catalog", "version = 2\n", "text/plain"), 400,
         "invalid_config");  // no items: nothing to push to every node
  // Valid but over 1 MiB: as one stream event it could never reach a site on a slow link,
  // and every directive behind it would wait. Refused, nothing published.
  std::string oversized = toml;
  oversized.replace(oversized.find("version = 1"), 11, "version = 2");
  oversized += "\n# " + std::string(1024 * 1024, 'x') + "\n";
  expect_error(hub.post_raw(op, "/api/v1/catalog", oversized, "text/plain"), 400,
               "catalog_too_large");
  CHECK(hub.get(op, "/api/v1/catalog").body["version"] == 1);
  std::string next = toml;
  next.replace(next.find("version = 1"), 11, "version = 2");
  REQUIRE(hub.post_raw(op, "/api/v1/catalog", next, "text/plain").status == 201);
  // The stream events carry the case id "catalog": not a case.
  expect_error(hub.get(op, "/api/v1/cases/catalog"), 404, "not_found");
  expect_error(hub.get(op, "/api/v1/cases/catalog/events"), 404, "not_found");
  // Junk from an authenticated site is refused every time but logged a few times only.
  RawClient raw(hub.sync_endpoint(), hub_public_key(d.district), site_key(s01), "S01");
  for (int i = 0; i < 300; ++i) raw.send_raw("\xff\x01junk");
  // A Hello whose site is not UTF-8: protobuf's own stderr line per frame is gone too.
  pb::Envelope bad_utf8 = hello("S01");
  bad_utf8.mutable_hello()->set_site("S0\xff");
  for (int i = 0; i < 300; ++i) raw.send(bad_utf8);
  for (int i = 0; i < 600; ++i) CHECK(raw.recv(3000));
  CHECK(count_lines_with(hub.data() / "daemon.log", "refused message from S01") <= 2);
  CHECK(count_lines_with(hub.data() / "daemon.log", "invalid UTF-8") == 0);
  // Logout ends the session.
  CHECK(hub.post(op, "/api/v1/logout", json::object()).status == 200);
  CHECK(hub.get(op, "/api/v1/sites").status == 401);
}

TEST_CASE("tongban bench started anywhere without a site-config says so and exits",
          "[integration][tools]") {
  std::string out;
  const int rc = run_cli({"bench", "node", "--site-config", "/nonexistent/site-config"}, &out);
  CHECK(rc == 2);
  CHECK(out.find("no site-config") != std::string::npos);
}

TEST_CASE("a license file with fields of the wrong type is invalid, not a crash",
          "[integration][tools]") {
  TempDir dir;
  const auto file = dir.path() / "license.json";
  std::ofstream(file) << R"({"payload":"{\"issuer_site\":7}","signature":"00","signer":5})";
  std::string out;
  const int rc = run_cli({"verify-license", file.string(), "--site-config",
                          std::string(TONGBAN_SITE_CONFIG_DIR)},
                         &out);
  INFO(out);
  CHECK(rc == 2);  // was an uncaught nlohmann::json type_error (abort, 134)
  CHECK(out.find("not a license file") != std::string::npos);
}
