// The monthly supervision report as a PDF, read back the way a reader would copy it out:
// poppler's pdftotext (one form feed per page) and pdfinfo's page count.
#include "tongban/hub/report.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.h"

using namespace tongban;
using namespace tongban::hub;
using tongban::test::TempDir;

namespace {

// The standard output of a shell command that must exit 0.
std::string run(const std::string& command) {
  std::string out;
  INFO(command);
  REQUIRE(tongban::test::run_command(command, &out) == 0);
  return out;
}

struct ReadBack {
  std::vector<std::string> pages;  // pdftotext -layout, page by page
  int page_count = 0;              // as pdfinfo reads it
  std::string text() const {
    std::string all;
    for (const std::string& p : pages) all += p;
    return all;
  }
};

ReadBack read_back(const std::string& pdf) {
  TempDir dir;
  const std::string file = (dir.path() / "report.pdf").string();
  {
    std::ofstream out(file, std::ios::binary);
    out << pdf;
    REQUIRE(out.good());
  }
  ReadBack r;
  const std::string text = run("pdftotext -layout '" + file + "' -");
  size_t start = 0;
  for (size_t ff; (ff = text.find('\f', start)) != std::string::npos; start = ff + 1)
    r.pages.push_back(text.substr(start, ff - start));
  const std::string info = run("pdfinfo '" + file + "'");
  const size_t at = info.find("Pages:");
  REQUIRE(at != std::string::npos);
  r.page_count = std::stoi(info.substr(at + 6));
  return r;
}

MonthlyReport::SiteRow site(std::string id, std::string name, int64_t decided, int64_t on_time) {
  return {.site = std::move(id),
          .name = std::move(name),
          .received = decided + 3,
          .concluded = decided,
          .decided = decided,
          .on_time = on_time,
          .used_days = decided * 4,
          .promised_days = decided * 10,
          .open_overdue = decided - on_time,
          .nearest = decided / 2,
          .one_visit = decided};
}

// 25 sites (more than one page holds with its chart), three rules' alerts, 20 ratings.
MonthlyReport sample_report() {
  MonthlyReport r;
  r.district = "雁塔区";
  r.month = date_from_ymd(2026, 10, 1);
  r.generated_at = test::at(2026, 11, 1, 8) + 30 * 60;
  r.sites.push_back(site("S01", "丈八街道便民服务中心", 40, 39));    // 97.5%
  r.sites.push_back(site("S02", "鱼化寨街道便民服务中心", 16, 12));  // 75.0%
  r.sites.push_back(site("S03", "曲江街道便民服务中心", 0, 0));      // nothing decided: —
  for (int i = 4; i <= 25; ++i) {
    const std::string n = (i < 10 ? "0" : "") + std::to_string(i);
    r.sites.push_back(site("S" + n, "第" + n + "社区便民服务站", 10, 9));
  }
  r.sites.back().received = 777;     // a figure only the table's last site row shows
  r.total = site("", "", 400, 380);  // 95.0%
  r.total.concluded = 400;
  r.total.nearest = 310;    // 77.5% 就近办结
  r.total.one_visit = 372;  // 93.0% 一次办成
  r.alerts = {{.rule = "deadline_warning",
               .name_zh = "临近时限",
               .severity = "notice",
               .raised = 12,
               .open = 3},
              {.rule = "deadline_overdue",
               .name_zh = "超期办结",
               .severity = "yellow",
               .raised = 5,
               .open = 1},
              {.rule = "bad_rating_unanswered",
               .name_zh = "差评未回访",
               .severity = "red",
               .raised = 2,
               .open = 2}};
  r.rating_levels = {1, 1, 2, 10, 6};  // 满意率 16 of 20: 80.0%
  r.loop = {.bad = 2,
            .called_back = 2,
            .appealed = 1,
            .upheld = 0,
            .rectified = 1,
            .followed_up = 1,
            .callback_days = 1.4,
            .rectify_days = 6.0,
            .overdue = 1};
  return r;
}

// `text` without whitespace: pdftotext's layout spaces CJK text as it measures it ("第1页"
// for "第 1 页", a title broken where its line ran out), so matching ignores spaces.
std::string squeezed(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c != ' ' && c != '\n' && c != '\t' && c != '\f') out.push_back(c);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return squeezed(text).find(squeezed(part)) != std::string::npos;
}

}  // namespace

TEST_CASE("the monthly report renders as a PDF with its title and figures", "[hub][report]") {
  auto pdf = render_report_pdf(sample_report());
  REQUIRE(pdf.ok());
  REQUIRE(pdf->starts_with("%PDF-"));
  const std::string text = read_back(*pdf).text();
  INFO(text);
  CHECK(contains(text, "雁塔区 政务服务月度监察报告"));
  CHECK(contains(text, "2026年10月"));
  CHECK(contains(text, "按期办结率"));
  CHECK(contains(text, "丈八街道便民服务中心"));
  CHECK(contains(text, "97.5%"));  // 39 of 40 on time
  CHECK(contains(text, "75.0%"));  // 12 of 16
  CHECK(contains(text, "95.0%"));  // the district: 380 of 400
  CHECK(contains(text, "超期办结"));
  CHECK(contains(text, "黄牌"));
  CHECK(contains(text, "红牌"));
  CHECK_FALSE(contains(text, "本月无预警"));
  CHECK(contains(text, "满意率"));
  CHECK(contains(text, "80.0%"));  // levels 4 and 5: 16 of 20
  CHECK(contains(text, "1.4"));    // mean callback time
  CHECK(contains(text, "77.5%"));  // 就近办结: 310 of 400
  CHECK(contains(text, "93.0%"));  // 一次办成: 372 of 400
}

TEST_CASE("the generation time is printed in Beijing time", "[hub][report]") {
  MonthlyReport r = sample_report();
  r.generated_at = test::at(2026, 11, 1, 8) + 30 * 60;  // 00:30 UTC
  auto pdf = render_report_pdf(r);
  REQUIRE(pdf.ok());
  const std::string text = read_back(*pdf).text();
  INFO(text);
  CHECK(contains(text, "2026-11-01 08:30"));
}

TEST_CASE("a report of 25 sites runs over several pages each numbered in its footer",
          "[hub][report]") {
  auto pdf = render_report_pdf(sample_report());
  REQUIRE(pdf.ok());
  const ReadBack back = read_back(*pdf);
  REQUIRE(back.page_count >= 2);
  REQUIRE(back.pages.size() == static_cast<size_t>(back.page_count));
  for (int k = 1; k <= back.page_count; ++k) {
    INFO("page " << k << ":\n" << back.pages[k - 1]);
    CHECK(contains(back.pages[k - 1], "第 " + std::to_string(k) + " 页"));
  }
  // The table carries on past the page break down to the last site.
  CHECK(contains(back.text(), "777"));
}

TEST_CASE("an empty month renders dashes and no alerts without dividing by zero", "[hub][report]") {
  MonthlyReport r;
  r.district = "雁塔区";
  r.month = date_from_ymd(2026, 2, 1);
  r.generated_at = test::at(2026, 3, 1);
  r.sites.push_back(site("S01", "丈八街道便民服务中心", 0, 0));
  r.total = site("", "", 0, 0);
  auto pdf = render_report_pdf(r);
  REQUIRE(pdf.ok());
  const ReadBack back = read_back(*pdf);
  const std::string text = back.text();
  INFO(text);
  CHECK(contains(text, "本月无预警"));
  CHECK(contains(text, "—"));
  CHECK_FALSE(contains(text, "nan"));
  CHECK_FALSE(contains(text, "inf"));
  CHECK(contains(back.pages.at(0), "第 1 页"));
}
