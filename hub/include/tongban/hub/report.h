// The monthly supervision report (月度监察报告): the figures the 行政审批服务局 reads each month
// — on-time rate per site, alerts by rule and severity, the rating distribution and the 差评
// loop's times, the 就近办 ratio — gathered by HubStore::monthly_report and laid out as a
// PDF with charts (cairo, the Noto CJK font) by render_report_pdf. The console shows the
// same figures with ECharts.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tongban/shared/calendar.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/status.h"

namespace tongban::hub {

struct MonthlyReport {
  std::string district;  // the district's name, for the title
  Date month;            // its first day
  Timestamp generated_at = 0;

  struct SiteRow {
    std::string site, name;  // "S01", "丈八街道便民服务中心"
    int64_t received = 0, concluded = 0, decided = 0, on_time = 0;
    int64_t used_days = 0, promised_days = 0;  // working days, sums over the decided
    int64_t open_overdue = 0;                  // of those received: open and past the deadline
    int64_t nearest = 0;                       // concluded where they were received (就近办结)
    int64_t one_visit = 0;                     // concluded without a second visit (一次办成)
  };
  std::vector<SiteRow> sites;  // every provisioned site, by id, zeros included
  SiteRow total;               // the district (site "", name "全区")

  struct AlertRow {
    std::string rule, name_zh;  // "deadline_overdue", "超期办结"
    std::string severity;       // notice | yellow | red
    int64_t raised = 0;         // raised in the month
    int64_t open = 0;           // of those, untouched (no supervisor has acted on them: 未处理)
  };
  std::vector<AlertRow> alerts;  // rules with at least one alert, in rule order

  std::array<int64_t, 5> rating_levels{};  // ratings given in the month, levels 1..5
  struct Loop {                            // 差评 given in the month and their closed loop
    int64_t bad = 0, called_back = 0, appealed = 0, upheld = 0, rectified = 0, followed_up = 0;
    double callback_days = 0;  // mean working days 差评 → callback (of those called back)
    double rectify_days = 0;   // mean working days 差评 → rectification (of those rectified)
    int64_t overdue = 0;       // a step past its limit (callback 1, rectification 15 days)
  } loop;
};

// Rows of text (the first the header, bold and frozen) as an .xlsx workbook of one sheet,
// every cell a string (nothing a spreadsheet would run as a formula); libxlsxwriter.
Result<std::string> xlsx_book(const std::vector<std::vector<std::string>>& rows,
                              const std::string& sheet_name);

// The report as a PDF document (A4, Simplified Chinese, charts and tables), or an error when
// cairo cannot draw it (no CJK font installed: Internal, saying so).
Result<std::string> render_report_pdf(const MonthlyReport& report);

}  // namespace tongban::hub
