// Residents' data at rest (issue 7): cases with a distinctive name, ID number, phone and
// notes go through a real hub and two nodes (accepted, decided with a license, told what is
// missing, booked, handed over, exported as a bundle); then every file the daemons wrote —
// databases, WAL files, logs, bundles — is scanned for each canary in UTF-8, UTF-16 and
// digit-only forms: nothing. The sites that hold the case still read it, and the hub only
// with a stated, audited reason.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

const std::string kName = "金丝雀测试员";
const std::string kPhone = "13579246801";
const std::string kNote = "金丝雀备注：住高新路九十九号";
const std::string kReason = "金丝雀理由：符合条件";

// UTF-8 text as UTF-16 (little- or big-endian), for a scan of any encoding a store might use.
std::string utf16(const std::string& utf8, bool little) {
  std::string out;
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    unsigned cp = c;
    size_t n = 1;
    if (c >= 0xE0) {
      cp = ((c & 0x0F) << 12) | ((utf8[i + 1] & 0x3F) << 6) | (utf8[i + 2] & 0x3F);
      n = 3;
    } else if (c >= 0xC0) {
      cp = ((c & 0x1F) << 6) | (utf8[i + 1] & 0x3F);
      n = 2;
    }
    const char hi = static_cast<char>(cp >> 8), lo = static_cast<char>(cp & 0xFF);
    out += little ? std::string{lo, hi} : std::string{hi, lo};
    i += n;
  }
  return out;
}

struct Hit {
  std::string file, canary;
};

// Every regular file under `root` searched for every needle.
std::vector<Hit> scan(const std::filesystem::path& root,
                      const std::vector<std::pair<std::string, std::string>>& needles) {
  std::vector<Hit> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string bytes = read_file(entry.path());
    for (const auto& [label, needle] : needles)
      if (bytes.find(needle) != std::string::npos)
        hits.push_back({entry.path().lexically_relative(root).string(), label});
  }
  return hits;
}

}  // namespace

TEST_CASE("no canary of a resident is readable in any file of a node or the hub",
          "[integration][sealed]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string id_number = resident_id(913);
  const json applicant = {{"name", kName}, {"id_number", id_number}, {"phone", kPhone}};
  const std::string clerk = d.s01.login("clerk"), reviewer = d.s01.login("reviewer");

  // A: accepted, reviewed, approved with a reason: a license naming the holder.
  json app = application("RS001", {"ID", "PHOTO"}, id_number);
  app["applicant"] = applicant;
  app["accept"] = json::object();
  HttpReply r = d.s01.post(clerk, "/api/v1/cases", app);
  INFO(r.body.dump());
  REQUIRE(r.status == 201);
  const std::string a = r.body["case_id"];
  REQUIRE(d.s01.post(reviewer, "/api/v1/cases/" + a + "/review", json::object()).status == 200);
  r = d.s01.post(reviewer, "/api/v1/cases/" + a + "/decide", {{"approve", true}, {"reason", kReason}});
  INFO(r.body.dump());
  REQUIRE(r.status == 200);
  // B: told what is missing with a note, then handed over to S02.
  app = application("RS001", {"ID"}, id_number);
  app["applicant"] = applicant;
  r = d.s01.post(clerk, "/api/v1/cases", app);
  REQUIRE(r.status == 201);
  const std::string b = r.body["case_id"];
  r = d.s01.post(clerk, "/api/v1/cases/" + b + "/request-materials",
                 {{"missing", {"PHOTO"}}, {"note", kNote}});
  INFO(r.body.dump());
  REQUIRE(r.status == 200);
  // An appointment in the resident's name.
  const std::string date = d.s01.get(clerk, "/api/v1/queue/today").body["date"];
  const json slots = d.s01.get(clerk, "/api/v1/appointments/slots?date=" + date).body;
  REQUIRE_FALSE(slots["slots"].empty());
  r = d.s01.post(clerk, "/api/v1/appointments",
                 {{"item_code", "GA002"}, {"date", date}, {"slot", slots["slots"].back()["time"]},
                  {"applicant", applicant}});
  INFO(r.body.dump());
  REQUIRE(r.status == 201);

  // A scan of the resident's ID card, named after them: the file and its name are sealed.
  const std::string id_scan = "%PDF-1.4\n(" + kName + " " + id_number + " " + kPhone + ")\n%%EOF\n";
  r = d.s01.post_raw(clerk, "/api/v1/cases/" + b + "/documents?material=ID&name=" +
                                httplib::detail::encode_query_param(kName + "身份证.pdf"),
                     id_scan, "application/pdf");
  INFO(r.body.dump());
  REQUIRE(r.status == 201);
  CHECK(r.body["documents"][0]["file_name"] == kName + "身份证.pdf");

  // The site reads what it sealed; a search by ID number (typed with a lowercase x or not)
  // finds both cases by blind index.
  CHECK(case_at(d.s01, clerk, a)["applicant"]["name"] == kName);
  std::string lower = id_number;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(d.s01.get(clerk, "/api/v1/cases?id_number=" + lower).body["count"] == 2);
  CHECK(d.s01.get(clerk, "/api/v1/cases?q=" + b).body["cases"][0]["applicant_name"] == kName);

  // The hub holds everything, reads nothing unasked, and hands B over with its key.
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  const json at_hub = case_at(d.hub, op, a);
  CHECK(at_hub["applicant"]["name"] == "");
  CHECK(at_hub["applicant"]["id_number"] == "");
  CHECK(d.hub.get(op, "/api/v1/cases?id_number=" + id_number).body["count"] == 2);
  expect_error(d.hub.get(op, "/api/v1/cases/" + a + "?reveal=1"), 400, "reason_required");
  const HttpReply revealed = d.hub.get(op, "/api/v1/cases/" + a + "?reveal=1&reason=" +
                                               "%E6%A0%B8%E5%AE%9E%E8%BA%AB%E4%BB%BD");  // 核实身份
  INFO(revealed.body.dump());
  REQUIRE(revealed.status == 200);
  CHECK(revealed.body["applicant"]["name"] == kName);
  const json reads = d.hub.get(op, "/api/v1/audit/personal-reads").body;
  REQUIRE(reads["count"] == 1);
  CHECK(reads["reads"][0]["by"] == "operator");
  CHECK(reads["reads"][0]["case_id"] == a);
  CHECK(reads["reads"][0]["reason"] == "核实身份");

  REQUIRE(d.hub.post(op, "/api/v1/cases/" + b + "/handover", {{"to", "S02"}, {"reason", "均衡负荷"}})
              .status == 200);
  const std::string s02_clerk = s02.login("clerk");
  eventually([&] { return s02.get(s02_clerk, "/api/v1/cases/" + b).status == 200; });
  const json at_s02 = case_at(s02, s02_clerk, b);
  CHECK(at_s02["applicant"]["name"] == kName);  // the new owner got the case key
  CHECK(at_s02["applicant"]["phone"] == kPhone);
  // The scan followed the case to S02, sealed all the way.
  eventually([&] {
    const HttpReply docs = s02.get(s02_clerk, "/api/v1/cases/" + b + "/documents");
    return docs.status == 200 && docs.body["documents"].size() == 1 &&
           docs.body["documents"][0]["state"] == "complete";
  });
  eventually([&] { return hub_held(d.hub, "S02") == s02.head_seq(); });

  // An offline bundle: the hub's stream to S02, with case B's whole history.
  const auto bundle = d.district.root() / "S02.bundle";
  std::string out;
  REQUIRE(run_cli({"export-bundle", "--hub", "--site-config", d.district.config().string(),
                   "--site", "S02", "--data", d.hub.data().string(), "--from", "1", "--out",
                   bundle.string()},
                  &out) == 0);
  INFO(out);

  // kill -9 leaves the WAL files as they are.
  d.s01.kill9();
  s02.kill9();
  d.hub.kill9();
  const std::vector<std::pair<std::string, std::string>> needles = {
      {"name utf-8", kName},
      {"name utf-16le", utf16(kName, true)},
      {"name utf-16be", utf16(kName, false)},
      {"id number", id_number},
      {"id digits", id_number.substr(0, 17)},
      {"id lowercase", lower},
      {"phone", kPhone},
      {"phone utf-16le", utf16(kPhone, true)},
      {"note utf-8", kNote},
      {"note utf-16le", utf16(kNote, true)},
      {"reason utf-8", kReason},
  };
  // The scanner finds a canary where one is.
  {
    std::ofstream planted(d.district.root() / "planted.txt");
    planted << "x" << utf16(kName, true) << "y" << kPhone;
  }
  const auto control = scan(d.district.root(), needles);
  CHECK(control.size() == 2);
  std::filesystem::remove(d.district.root() / "planted.txt");
  REQUIRE(std::filesystem::exists(d.s01.data() / "node.db-wal"));
  REQUIRE(std::filesystem::exists(d.hub.data() / "hub.db-wal"));
  REQUIRE(std::filesystem::exists(bundle));
  for (const Hit& h : scan(d.district.root(), needles)) FAIL_CHECK(h.file << " holds the " << h.canary);
}

TEST_CASE("a data key rotation re-seals every row in the background and the node reads on",
          "[integration][sealed]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk"), admin = node.login("admin");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    json app = application("RS001", {"ID", "PHOTO"}, resident_id(300 + i));
    app["applicant"]["name"] = "轮换" + std::to_string(i);
    const HttpReply r = node.post(clerk, "/api/v1/cases", app);
    REQUIRE(r.status == 201);
    ids.push_back(r.body["case_id"]);
  }
  expect_error(node.post(clerk, "/api/v1/admin/data-key/rotate", json::object()), 403,
               "forbidden_role");
  HttpReply r = node.get(admin, "/api/v1/admin/data-key");
  REQUIRE(r.status == 200);
  CHECK(r.body["active_key"] == 1);
  r = node.post(admin, "/api/v1/admin/data-key/rotate", json::object());
  INFO(r.body.dump());
  REQUIRE(r.status == 202);
  CHECK(r.body["active_key"] == 2);
  // Work goes on while the rows are re-sealed.
  json more = application("RS001", {"ID", "PHOTO"}, resident_id(400));
  more["applicant"]["name"] = "轮换中";
  REQUIRE(node.post(clerk, "/api/v1/cases", more).status == 201);
  eventually([&] { return node.get(admin, "/api/v1/admin/data-key").body["resealing"] == false; });
  CHECK(node.get(admin, "/api/v1/admin/data-key").body["keys"] == json::array({2}));
  {
    Db db = open_db(node.data() / "node.db");
    // Every sealed row names data key 2 (its first 4 bytes, little-endian).
    const char* checks[] = {
        "SELECT count(*) FROM case_keys WHERE hex(substr(sealed, 1, 4)) <> ?1",
        "SELECT count(*) FROM cases WHERE typeof(applicant_name) = 'blob'"
        " AND hex(substr(applicant_name, 1, 4)) <> ?1"};
    for (const char* sql : checks) CHECK(count_rows(db, sql, "02000000") == 0);
    CHECK(count_rows(db, "SELECT count(*) FROM case_keys WHERE ?1 <> ''", "x") == 31);
  }
  // After a restart with the same KEK, every case reads as before.
  node.stop();
  node.start();
  const std::string again = node.login("clerk");
  for (int i : {0, 17, 29})
    CHECK(node.get(again, "/api/v1/cases/" + ids[i]).body["applicant"]["name"] ==
          "轮换" + std::to_string(i));
  CHECK(node.get(again, "/api/v1/cases?q=" + ids[5]).body["cases"][0]["applicant_name"] == "轮换5");
}

TEST_CASE("a node will not start without its KEK or beside another on the same data dir",
          "[integration][sealed]") {
  NodeHarness node;
  node.start();
  // A second node on the same directory is refused while the first runs.
  std::string out;
  NodeHarness& same = node;
  CHECK(same.start_refused(&out) != 0);
  CHECK(out.find("data_dir_in_use") == std::string::npos);  // zh/en, not the code
  CHECK(out.find("数据目录正被另一个进程使用") != std::string::npos);
  node.stop();
  // Without the KEK, or with another one, it does not start and says why.
  const auto kek = node.key_file(), kept = node.data().parent_path() / "kept.kek";
  std::filesystem::rename(kek, kept);
  CHECK(node.start_refused(&out) != 0);
  CHECK(out.find("密钥文件不存在") != std::string::npos);
  {
    std::ofstream f(kek);
    f << std::string(64, 'a') << "\n";
  }
  CHECK(node.start_refused(&out) != 0);
  CHECK(out.find("密钥加密密钥不正确") != std::string::npos);
  std::filesystem::rename(kept, kek);
  node.start();
  CHECK(node.get(node.login("clerk"), "/api/v1/cases").status == 200);
}
