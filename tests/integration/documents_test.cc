// 电子材料 with real processes: a window uploads a 20 MiB scan; it reaches the hub in sealed
// chunks over a throttled link that is cut every few seconds, arrives once, does not hold
// back the events behind it, and follows the case to the site it is handed to; reviewers
// and operators read it, and every read is recorded. Bad files are refused with nothing
// stored.
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/faultproxy/fault_proxy.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/documents.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

// A file that is a PNG by every check the node makes (signature, IHDR first, IEND last),
// `size` bytes long, its body random.
std::string synthetic_png(size_t size, uint32_t seed) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += std::string("\0\0\0\x0dIHDR", 8);
  png += std::string("\0\0\x01\0\0\0\x01\0\x08\x02\0\0\0", 13);
  png += std::string(4, '\x11');  // crc (not checked)
  const size_t body = size - png.size() - 12 - 12;
  png += std::string(4, '\0');  // a private chunk's length (not checked)
  png += "prVt";
  std::mt19937 rng(seed);
  for (size_t i = 0; i < body; ++i) png += static_cast<char>(rng());
  png += std::string(4, '\x22');
  png += std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  return png;
}

httplib::Result upload(Daemon& node, const std::string& token, const std::string& id,
                       const std::string& material, const std::string& name,
                       const std::string& content, const std::string& type) {
  httplib::Client c("127.0.0.1", node.port());
  c.set_read_timeout(60, 0);
  c.set_write_timeout(60, 0);
  const httplib::Headers h = {{"Authorization", "Bearer " + token}};
  return c.Post("/api/v1/cases/" + id + "/documents?material=" + material + "&name=" +
                    httplib::detail::encode_query_param(name),
                h, content, type.c_str());
}

httplib::Result download(Daemon& d, const std::string& token, const std::string& path) {
  httplib::Client c("127.0.0.1", d.port());
  c.set_read_timeout(60, 0);
  return c.Get(path, {{"Authorization", "Bearer " + token}});
}

json document_at(Daemon& d, const std::string& token, const std::string& id) {
  const HttpReply r = d.get(token, "/api/v1/cases/" + id + "/documents");
  INFO(r.body.dump());
  REQUIRE(r.status == 200);
  REQUIRE(r.body["documents"].size() == 1);
  return r.body["documents"][0];
}

}  // namespace

TEST_CASE("a 20 MiB scan reaches the hub once over a link cut every few seconds and follows the case",
          "[integration][documents]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01");
  NodeHarness s02(district, "S02");
  hub.start();
  auto proxy = tools::FaultProxy::start(hub.sync_port());
  REQUIRE(proxy.ok());
  s01.set_hub("tcp://127.0.0.1:" + std::to_string((*proxy)->port()));
  s01.start();
  const std::string op = hub.login("operator");
  join(s02, hub, op);
  const std::string clerk = s01.login("clerk");
  const std::string id = submit(s01, clerk, 1);
  eventually([&] { return hub_held(hub, "S01") == s01.head_seq(); });

  // About 2 MB/s: the file takes a while, and the link is cut every 2-3 s meanwhile.
  (*proxy)->set_flow(tools::Flow::kThrottle, 2 * 1024 * 1024);
  const std::string scan = synthetic_png(kMaxDocumentBytes, 7);
  const std::string hash = to_hex(document_hash(scan));
  auto up = upload(s01, clerk, id, "ID", "身份证正反面.png", scan, "image/png");
  REQUIRE(up);
  INFO(up->body);
  REQUIRE(up->status == 201);
  const json attached = json::parse(up->body)["documents"];
  REQUIRE(attached.size() == 1);
  CHECK(attached[0]["hash"] == hash);
  CHECK(attached[0]["mime"] == "image/png");
  CHECK(attached[0]["file_name"] == "身份证正反面.png");
  CHECK(document_at(s01, clerk, id)["state"] == "complete");

  // The same file again is the one attached: no second event, no second copy.
  const uint64_t head_after_upload = s01.head_seq();
  auto again = upload(s01, clerk, id, "ID", "身份证正反面.png", scan, "image/png");
  REQUIRE(again);
  CHECK(again->status == 201);
  CHECK(s01.head_seq() == head_after_upload);

  // The events behind the file are not held up by it: a new case reaches the hub while the
  // file is still on its way.
  const std::string later = submit(s01, clerk, 2);
  eventually([&] { return hub.get(op, "/api/v1/cases/" + later).status == 200; });
  const json at_hub_early = document_at(hub, op, id);
  INFO(at_hub_early.dump());
  CHECK(at_hub_early["chunks_held"].get<int>() < at_hub_early["chunks"].get<int>());

  std::atomic<bool> done{false};
  std::thread cutter([&] {
    while (!done) {
      for (int i = 0; i < 25 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!done) (*proxy)->cut();
    }
  });
  eventually([&] { return document_at(hub, op, id)["state"] == "complete"; },
             std::chrono::seconds(120));
  done = true;
  cutter.join();
  CHECK((*proxy)->stats().cut > 0);
  (*proxy)->set_flow(tools::Flow::kRelay);

  // An operator reads it only with a reason, and the read is recorded.
  auto no_reason = download(hub, op, "/api/v1/cases/" + id + "/documents/" + hash);
  REQUIRE(no_reason);
  CHECK(no_reason->status == 400);
  auto at_hub = download(hub, op, "/api/v1/cases/" + id + "/documents/" + hash + "?reason=" +
                                      httplib::detail::encode_query_param("核查身份证明材料"));
  REQUIRE(at_hub);
  REQUIRE(at_hub->status == 200);
  CHECK(at_hub->get_header_value("Content-Type") == "image/png");
  CHECK(at_hub->get_header_value("Content-Security-Policy").find("sandbox") != std::string::npos);
  CHECK(at_hub->body == scan);
  const json reads = hub.get(op, "/api/v1/audit/personal-reads").body;
  REQUIRE(reads["count"] == 1);
  CHECK(reads["reads"][0]["case_id"] == id);

  // Handed to S02 (收受分离: the deciding site needs the materials), where a reviewer reads it.
  const HttpReply moved = hub.post(op, "/api/v1/cases/" + id + "/handover",
                                   {{"to", "S02"}, {"reason", "转鱼化寨中心审批"}});
  INFO(moved.body.dump());
  REQUIRE(moved.status == 200);
  const std::string s02_reviewer = s02.login("reviewer");
  eventually([&] {
    const HttpReply r = s02.get(s02_reviewer, "/api/v1/cases/" + id + "/documents");
    return r.status == 200 && r.body["documents"].size() == 1 &&
           r.body["documents"][0]["state"] == "complete";
  }, std::chrono::seconds(60));
  auto at_s02 = download(s02, s02_reviewer, "/api/v1/cases/" + id + "/documents/" + hash);
  REQUIRE(at_s02);
  REQUIRE(at_s02->status == 200);
  CHECK(at_s02->body == scan);
  CHECK(at_s02->get_header_value("Content-Disposition").find("filename*=UTF-8''") !=
        std::string::npos);
  const json at_s02_case = case_at(s02, s02_reviewer, id);
  REQUIRE(at_s02_case["document_reads"].size() == 1);
  CHECK(at_s02_case["document_reads"][0]["by"] == "reviewer");
  CHECK(at_s02_case["document_reads"][0]["site"] == "S02");

  // The read travels like every event: the hub's history shows it.
  eventually([&] { return case_at(hub, op, id)["document_reads"].size() == 1; });

  // Arrived once: exactly the file's chunks at the hub.
  hub.stop();
  s01.stop();
  s02.stop();
  Db hub_db = open_db(hub.data() / "hub.db");
  CHECK(count_rows(hub_db, "SELECT count(*) FROM doc_chunks WHERE case_id=?1", id) == 20);
  CHECK(count_rows(hub_db, "SELECT count(*) FROM documents WHERE case_id=?1", id) == 1);
  Db s02_db = open_db(s02.data() / "node.db");
  CHECK(count_rows(s02_db, "SELECT count(*) FROM doc_chunks WHERE case_id=?1", id) == 20);
  // Sealed at rest: no run of the file's bytes is in either database.
  const std::string probe = scan.substr(4096, 64);
  CHECK(read_file(hub.data() / "hub.db").find(probe) == std::string::npos);
  CHECK(read_file(s01.data() / "node.db").find(probe) == std::string::npos);
  expect_integrity(hub.data() / "hub.db");
}

TEST_CASE("a document that is too large or lies about its type or names no material is refused with nothing stored",
          "[integration][documents]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  const std::string id = submit(node, clerk, 3);
  const uint64_t head = node.head_seq();
  const std::string png = synthetic_png(4096, 1);
  const std::string pdf = "%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

  struct Bad {
    std::string what, material, name, content, type;
    int status;
    std::string code;
  };
  const std::vector<Bad> bad = {
      {"over 20 MiB", "ID", "a.png", synthetic_png(kMaxDocumentBytes + 1, 2), "image/png", 413,
       "payload_too_large"},
      {"PNG declared as PDF", "ID", "a.pdf", png, "application/pdf", 400,
       "document_type_mismatch"},
      {"PNG named .pdf", "ID", "scan.pdf", png, "application/octet-stream", 400,
       "document_type_mismatch"},
      {"PDF declared as JPEG", "ID", "a.jpg", pdf, "image/jpeg", 400, "document_type_mismatch"},
      {"a text file", "ID", "a.txt", "hello", "text/plain", 400, "document_type_unsupported"},
      {"an executable named .png", "ID", "a.png", "MZ\x90\x00\x03", "image/png", 400,
       "document_type_unsupported"},
      {"a PNG cut short", "ID", "a.png", png.substr(0, 2000), "image/png", 400,
       "document_type_unsupported"},
      {"an empty file", "ID", "a.png", "", "image/png", 400, "document_empty"},
      {"a material the case does not have", "NOPE", "a.png", png, "image/png", 400,
       "unknown_material"},
  };
  for (const Bad& b : bad) {
    INFO(b.what);
    auto r = upload(node, clerk, id, b.material, b.name, b.content, b.type);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == b.status);
    const json body = json::parse(r->body, nullptr, false);
    REQUIRE(body.is_object());
    CHECK(body["error"]["code"] == b.code);
    CHECK(!body["error"]["message"].get<std::string>().empty());
    CHECK(!body["error"]["message_en"].get<std::string>().empty());
  }
  CHECK(node.head_seq() == head);
  CHECK(node.get(clerk, "/api/v1/cases/" + id + "/documents").body["documents"].empty());

  // A good PDF goes in; an unknown hash is not found, and a read is in the history.
  auto ok = upload(node, clerk, id, "PHOTO", "照片.pdf", pdf, "application/pdf");
  REQUIRE(ok);
  REQUIRE(ok->status == 201);
  const std::string hash = to_hex(document_hash(pdf));
  auto missing = download(node, clerk, "/api/v1/cases/" + id + "/documents/" + std::string(64, 'a'));
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto read = download(node, clerk, "/api/v1/cases/" + id + "/documents/" + hash);
  REQUIRE(read);
  CHECK(read->status == 200);
  CHECK(read->body == pdf);
  const json c = case_at(node, clerk, id);
  REQUIRE(c["document_reads"].size() == 1);
  CHECK(c["document_reads"][0]["hash"] == hash);
  node.stop();
  Db db = open_db(node.data() / "node.db");
  CHECK(count_rows(db, "SELECT count(*) FROM doc_chunks WHERE case_id=?1", id) == 1);
}
