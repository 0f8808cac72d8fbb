// The monthly supervision report drawn as a PDF: cairo's PDF surface writing into a string,
// its toy text API with the Noto Sans CJK SC font (checked through fontconfig first), A4
// portrait, a new page whenever the content runs out. One bar-chart drawer and one table
// drawer serve every section, so the three charts and all tables look alike.
//
// Longer than our files usually are: the page cursor, the two drawers and the four sections
// are one private unit behind render_report_pdf and share its page geometry and palette; if
// the report grows, the drawing layer (text, PageCursor, charts, tables) is the part to move
// into a private report_draw.h/.cc.
#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tongban/hub/report.h"

namespace tongban::hub {

namespace {

// A4 portrait in points, and the area the content may use; the footer sits below kBottom.
constexpr double kPageWidth = 595.28;
constexpr double kPageHeight = 841.89;
constexpr double kMarginX = 50;
constexpr double kTop = 50;
constexpr double kBottom = kPageHeight - 62;
constexpr double kContentWidth = kPageWidth - 2 * kMarginX;

constexpr const char* kFontFamily = "Noto Sans CJK SC";
constexpr std::string_view kCjkFamilyPrefix = "Noto Sans CJK";
// Printed for a rate or mean whose denominator is zero.
constexpr const char* kNoFigure = "—";

struct Rgb {
  double r, g, b;
};

constexpr Rgb hex(unsigned v) {
  return {((v >> 16) & 0xFF) / 255.0, ((v >> 8) & 0xFF) / 255.0, (v & 0xFF) / 255.0};
}

// The console's palette (Element UI), so the PDF and the ECharts views match.
constexpr Rgb kText = hex(0x303133);
constexpr Rgb kMuted = hex(0x909399);
constexpr Rgb kBorder = hex(0xDCDFE6);
constexpr Rgb kGrid = hex(0xEBEEF5);
constexpr Rgb kHeaderFill = hex(0xF2F6FC);
constexpr Rgb kTotalFill = hex(0xF5F7FA);
constexpr Rgb kBlue = hex(0x409EFF);
constexpr Rgb kYellow = hex(0xE6A23C);
constexpr Rgb kRed = hex(0xF56C6C);
constexpr Rgb kGreen = hex(0x67C23A);
constexpr Rgb kTitleRed = hex(0xC8161D);  // the rule under a government document's title

enum class Align { kLeft, kCenter, kRight };

struct Font {
  double size = 9;
  bool bold = false;
  Rgb colour = kText;
};

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};
struct PatternDeleter {
  void operator()(FcPattern* p) const { FcPatternDestroy(p); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, ContextDeleter>;
using PatternPtr = std::unique_ptr<FcPattern, PatternDeleter>;

// ---- figures ------------------------------------------------------------------------------

// "97.5%", or "—" when there is nothing to divide by.
std::string percent(int64_t part, int64_t whole) {
  if (whole == 0) return kNoFigure;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(part) / whole);
  return buf;
}

std::string one_decimal(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return buf;
}

// A mean with one decimal, or "—" when it averages nothing.
std::string mean(int64_t sum, int64_t count) {
  return count == 0 ? kNoFigure : one_decimal(static_cast<double>(sum) / count);
}

std::string month_label(Date month) {
  int y, m, d;
  ymd_from_date(month, y, m, d);
  return std::to_string(y) + "年" + std::to_string(m) + "月";
}

// "2026-11-01 08:30" in Beijing time, cut from format_time's "2026-11-01T08:30:00+08:00".
std::string minute_label(Timestamp ts) {
  const std::string iso = format_time(ts);
  return iso.substr(0, 10) + " " + iso.substr(11, 5);
}

// ---- text -------------------------------------------------------------------------------

void set_colour(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

void set_font(cairo_t* cr, const Font& font) {
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         font.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, font.size);
  set_colour(cr, font.colour);
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

// Drops the last UTF-8 code point of a non-empty string.
void pop_code_point(std::string& text) {
  size_t n = text.size() - 1;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  text.resize(n);
}

// `text` in the current font, cut and ended with "…" when wider than `width`.
std::string fit_width(cairo_t* cr, std::string text, double width) {
  if (text_width(cr, text) <= width) return text;
  while (!text.empty()) {
    pop_code_point(text);
    if (text_width(cr, text + "…") <= width) return text + "…";
  }
  return text;
}

// Draws `text` on baseline y, anchored at x by `align`, cut to `max_width`.
void draw_text(cairo_t* cr, const std::string& text, double x, double y, const Font& font,
               Align align = Align::kLeft, double max_width = kContentWidth) {
  set_font(cr, font);
  const std::string shown = fit_width(cr, text, max_width);
  const double w = text_width(cr, shown);
  if (align == Align::kCenter) x -= w / 2;
  if (align == Align::kRight) x -= w;
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, shown.c_str());
}

// The length of the unbreakable piece of `text` at `i`: a run of ASCII that is not a space
// ("93.0%", "400"), or one other code point (Chinese breaks between any two characters).
size_t piece_length(const std::string& text, size_t i) {
  const auto ascii_word = [&](size_t k) {
    return static_cast<unsigned char>(text[k]) < 0x80 && text[k] != ' ';
  };
  size_t n = 1;
  if (ascii_word(i)) {
    while (i + n < text.size() && ascii_word(i + n)) ++n;
    return n;
  }
  while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
  return n;
}

// Lines of `text` no wider than `width` in `font`. Closing punctuation never starts a line
// (it may overhang the margin instead), as Chinese typesetting requires.
std::vector<std::string> wrap_lines(cairo_t* cr, const std::string& text, const Font& font,
                                    double width) {
  constexpr std::string_view kNoLineStart = "，。；：、）";
  set_font(cr, font);
  std::vector<std::string> lines(1);
  for (size_t i = 0, n; i < text.size(); i += n) {
    n = piece_length(text, i);
    const std::string piece = text.substr(i, n);
    if (!lines.back().empty() && kNoLineStart.find(piece) == std::string_view::npos &&
        text_width(cr, lines.back() + piece) > width)
      lines.emplace_back();
    if (lines.back().empty() && piece == " ") continue;
    lines.back() += piece;
  }
  return lines;
}

// ---- pages ------------------------------------------------------------------------------

// The page being drawn and the cursor on it. reserve() starts a new page when the next piece
// does not fit; every page ends with the footer "第 N 页", pages after the first open with a
// running head.
class PageCursor {
 public:
  PageCursor(cairo_t* cr, std::string running_head)
      : cr_(cr), running_head_(std::move(running_head)) {
    start_page();
  }
  PageCursor(const PageCursor&) = delete;
  PageCursor& operator=(const PageCursor&) = delete;

  cairo_t* cr() const { return cr_; }
  double y() const { return y_; }
  void advance(double dy) { y_ += dy; }

  // Makes room for `height` below the cursor; returns whether a new page was started.
  bool reserve(double height) {
    if (y_ + height <= kBottom) return false;
    end_page();
    start_page();
    return true;
  }

  // Ends the last page; nothing may be drawn afterwards.
  void finish() { end_page(); }

 private:
  void start_page() {
    ++number_;
    y_ = kTop;
    if (number_ == 1) return;
    draw_text(cr_, running_head_, kMarginX, y_ - 16, {8, false, kMuted});
    cairo_set_line_width(cr_, 0.5);
    set_colour(cr_, kBorder);
    cairo_move_to(cr_, kMarginX, y_ - 10);
    cairo_line_to(cr_, kPageWidth - kMarginX, y_ - 10);
    cairo_stroke(cr_);
  }

  void end_page() {
    draw_text(cr_, "第 " + std::to_string(number_) + " 页", kPageWidth / 2, kPageHeight - 32,
              {9, false, kMuted}, Align::kCenter);
    cairo_show_page(cr_);
  }

  cairo_t* cr_;
  std::string running_head_;
  int number_ = 0;
  double y_ = kTop;
};

void draw_heading(PageCursor& page, const std::string& text) {
  page.reserve(34 + 80);  // keep a heading on the page of its first lines
  page.advance(12);
  cairo_t* cr = page.cr();
  set_colour(cr, kBlue);
  cairo_rectangle(cr, kMarginX, page.y() + 1, 3.5, 15);
  cairo_fill(cr);
  draw_text(cr, text, kMarginX + 10, page.y() + 14, {13, true});
  page.advance(26);
}

void draw_subheading(PageCursor& page, const std::string& text) {
  page.reserve(20 + 60);
  page.advance(6);
  draw_text(page.cr(), text, kMarginX, page.y() + 11, {10.5, true});
  page.advance(18);
}

void draw_paragraph(PageCursor& page, const std::string& text, const Font& font = {10}) {
  const double line_height = font.size * 1.7;
  for (const std::string& line : wrap_lines(page.cr(), text, font, kContentWidth)) {
    page.reserve(line_height);
    draw_text(page.cr(), line, kMarginX, page.y() + font.size * 1.2, font);
    page.advance(line_height);
  }
  page.advance(4);
}

// ---- charts -----------------------------------------------------------------------------

// One bar of a horizontal bar chart. A bar without a figure (a rate of nothing) shows its
// label and "—" but no bar.
struct Bar {
  std::string label;
  double value = 0;
  std::string caption;  // printed at the bar's end
  Rgb colour = kBlue;
  bool has_value = true;
};

struct Tick {
  double value;
  std::string label;
};

struct BarChart {
  std::vector<Bar> bars;
  double full_scale = 0;    // the value of a full-length bar; 0 draws every bar empty
  std::vector<Tick> ticks;  // grid lines, labelled above the chart (none for counts)
  double label_width = 150;
};

// Where a chart's values lie across the page: value 0 at x0, full_scale at x0 + room.
struct ChartAxis {
  double x0, room, full_scale;
  double x_of(double v) const {
    return full_scale > 0 ? x0 + room * std::clamp(v / full_scale, 0.0, 1.0) : x0;
  }
};

constexpr double kBarRow = 16, kBarHeight = 10, kCaptionRoom = 70, kTickHead = 14;

// One row of a chart whose top is at `top`: grid, axis, label, bar, caption.
void draw_bar_row(cairo_t* cr, const BarChart& chart, const ChartAxis& axis, const Bar& bar,
                  double top) {
  cairo_set_line_width(cr, 0.5);
  set_colour(cr, kGrid);
  for (const Tick& t : chart.ticks) {
    cairo_move_to(cr, axis.x_of(t.value), top);
    cairo_line_to(cr, axis.x_of(t.value), top + kBarRow);
  }
  cairo_stroke(cr);
  set_colour(cr, kMuted);
  cairo_move_to(cr, axis.x0, top);
  cairo_line_to(cr, axis.x0, top + kBarRow);
  cairo_stroke(cr);
  draw_text(cr, bar.label, axis.x0 - 8, top + 11.5, {9}, Align::kRight, chart.label_width);
  const double end = bar.has_value ? axis.x_of(bar.value) : axis.x0;
  if (end > axis.x0) {
    set_colour(cr, bar.colour);
    cairo_rectangle(cr, axis.x0, top + (kBarRow - kBarHeight) / 2, end - axis.x0, kBarHeight);
    cairo_fill(cr);
  }
  draw_text(cr, bar.has_value ? bar.caption : kNoFigure, end + 5, top + 11.5, {8.5}, Align::kLeft,
            kCaptionRoom - 5);
}

// Draws the chart at the cursor, one row per bar; rows past the page continue on the next
// one under repeated tick labels.
void draw_bar_chart(PageCursor& page, const BarChart& chart) {
  const double x0 = kMarginX + chart.label_width + 8;
  const ChartAxis axis{x0, kPageWidth - kMarginX - kCaptionRoom - x0, chart.full_scale};
  const double head = chart.ticks.empty() ? 0 : kTickHead;
  bool first = true;
  for (const Bar& bar : chart.bars) {
    if (page.reserve(kBarRow + (first ? head : 0)) || first) {
      for (const Tick& t : chart.ticks)
        draw_text(page.cr(), t.label, axis.x_of(t.value), page.y() + 9, {7.5, false, kMuted},
                  Align::kCenter);
      page.advance(head);
      first = false;
    }
    draw_bar_row(page.cr(), chart, axis, bar, page.y());
    page.advance(kBarRow);
  }
  page.advance(10);
}

// A row of coloured squares with their meaning, above a chart whose colours say something.
void draw_legend(PageCursor& page, const std::vector<std::pair<std::string, Rgb>>& entries) {
  page.reserve(18);
  cairo_t* cr = page.cr();
  double x = kMarginX;
  for (const auto& [label, colour] : entries) {
    set_colour(cr, colour);
    cairo_rectangle(cr, x, page.y() + 3, 9, 9);
    cairo_fill(cr);
    draw_text(cr, label, x + 13, page.y() + 11, {8.5});
    set_font(cr, {8.5});
    x += 13 + text_width(cr, label) + 16;
  }
  page.advance(18);
}

// ---- tables -----------------------------------------------------------------------------

struct Column {
  std::string header;  // "\n" breaks it into lines
  double weight;       // share of the content width
  Align align = Align::kRight;
};

struct TableRow {
  std::vector<std::string> cells;
  bool emphasis = false;  // a total: bold on a tinted ground
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines(1);
  for (char c : text) {
    if (c == '\n')
      lines.emplace_back();
    else
      lines.back().push_back(c);
  }
  return lines;
}

constexpr double kTableRow = 17, kCellPad = 4, kHeaderLine = 11;

// One bordered cell, its lines centred vertically; a header or a total sits on a tint.
void draw_cell(cairo_t* cr, double x, double y, double w, double height,
               const std::vector<std::string>& lines, Align align, bool bold,
               const Rgb* fill = nullptr) {
  if (fill) {
    set_colour(cr, *fill);
    cairo_rectangle(cr, x, y, w, height);
    cairo_fill(cr);
  }
  set_colour(cr, kBorder);
  cairo_set_line_width(cr, 0.5);
  cairo_rectangle(cr, x, y, w, height);
  cairo_stroke(cr);
  const double anchor = align == Align::kLeft    ? x + kCellPad
                        : align == Align::kRight ? x + w - kCellPad
                                                 : x + w / 2;
  const double first_baseline = y + (height - lines.size() * kHeaderLine) / 2 + 8.5;
  for (size_t k = 0; k < lines.size(); ++k)
    draw_text(cr, lines[k], anchor, first_baseline + k * kHeaderLine, {8.5, bold}, align,
              w - 2 * kCellPad);
}

// Draws a bordered table at the cursor; rows past the page continue on the next one under a
// repeated header.
void draw_table(PageCursor& page, const std::vector<Column>& columns,
                const std::vector<TableRow>& rows) {
  double total_weight = 0;
  size_t header_lines = 1;
  for (const Column& c : columns) {
    total_weight += c.weight;
    header_lines = std::max(header_lines, split_lines(c.header).size());
  }
  std::vector<double> widths;
  for (const Column& c : columns) widths.push_back(kContentWidth * c.weight / total_weight);
  const double header_height = header_lines * kHeaderLine + 8;
  const auto draw_header = [&] {
    double x = kMarginX;
    for (size_t i = 0; i < columns.size(); x += widths[i++])
      draw_cell(page.cr(), x, page.y(), widths[i], header_height, split_lines(columns[i].header),
                Align::kCenter, true, &kHeaderFill);
    page.advance(header_height);
  };
  page.reserve(header_height + kTableRow * std::min<size_t>(rows.size(), 3));
  draw_header();
  for (const TableRow& row : rows) {
    if (page.reserve(kTableRow)) draw_header();
    double x = kMarginX;
    for (size_t i = 0; i < columns.size(); x += widths[i++])
      draw_cell(page.cr(), x, page.y(), widths[i], kTableRow, {row.cells.at(i)}, columns[i].align,
                row.emphasis, row.emphasis ? &kTotalFill : nullptr);
    page.advance(kTableRow);
  }
  page.advance(10);
}

// Large figures side by side in tinted boxes: the few numbers a reader should not miss.
void draw_key_figures(PageCursor& page,
                      const std::vector<std::pair<std::string, std::string>>& figures) {
  constexpr double kHeight = 54, kGap = 12;
  page.reserve(kHeight + 8);
  cairo_t* cr = page.cr();
  const double w = (kContentWidth - kGap * (figures.size() - 1)) / figures.size();
  double x = kMarginX;
  for (const auto& [label, value] : figures) {
    set_colour(cr, kHeaderFill);
    cairo_rectangle(cr, x, page.y(), w, kHeight);
    cairo_fill(cr);
    draw_text(cr, value, x + w / 2, page.y() + 27, {18, true, kBlue}, Align::kCenter);
    draw_text(cr, label, x + w / 2, page.y() + 45, {9, false, kMuted}, Align::kCenter);
    x += w + kGap;
  }
  page.advance(kHeight + 10);
}

// ---- sections ---------------------------------------------------------------------------

void draw_title(PageCursor& page, const MonthlyReport& r) {
  cairo_t* cr = page.cr();
  draw_text(cr, r.district + " 政务服务月度监察报告", kPageWidth / 2, page.y() + 20, {18, true},
            Align::kCenter);
  draw_text(cr, month_label(r.month), kPageWidth / 2, page.y() + 44, {12}, Align::kCenter);
  draw_text(cr, "生成时间 " + minute_label(r.generated_at), kPageWidth / 2, page.y() + 62,
            {8.5, false, kMuted}, Align::kCenter);
  set_colour(cr, kTitleRed);
  cairo_set_line_width(cr, 1.5);
  cairo_move_to(cr, kMarginX, page.y() + 74);
  cairo_line_to(cr, kPageWidth - kMarginX, page.y() + 74);
  cairo_stroke(cr);
  page.advance(80);
}

std::string site_label(const MonthlyReport::SiteRow& s) { return s.name.empty() ? s.site : s.name; }

TableRow site_table_row(const MonthlyReport::SiteRow& s, bool emphasis) {
  return {{site_label(s), std::to_string(s.received), std::to_string(s.concluded),
           percent(s.on_time, s.decided), mean(s.used_days, s.decided),
           mean(s.promised_days, s.decided), std::to_string(s.open_overdue),
           percent(s.nearest, s.concluded), percent(s.one_visit, s.concluded)},
          emphasis};
}

// 一、按期办结率: on time among the decided, per site; the district's row closes the table.
void draw_on_time_section(PageCursor& page, const MonthlyReport& r) {
  draw_heading(page, "一、按期办结率（按站点）");
  BarChart chart{{}, 1.0, {{0, "0%"}, {0.25, "25%"}, {0.5, "50%"}, {0.75, "75%"}, {1, "100%"}}};
  for (const auto& s : r.sites) {
    const double rate = s.decided > 0 ? static_cast<double>(s.on_time) / s.decided : 0;
    chart.bars.push_back(
        {site_label(s), rate, percent(s.on_time, s.decided), kBlue, s.decided > 0});
  }
  draw_bar_chart(page, chart);
  const std::vector<Column> columns = {{"站点", 2.6, Align::kLeft},
                                       {"受理", 0.9},
                                       {"办结", 0.9},
                                       {"按期\n办结率", 1.1},
                                       {"平均用时\n(工作日)", 1.1},
                                       {"承诺时限\n(工作日)", 1.1},
                                       {"逾期\n未办结", 1.0},
                                       {"就近\n办结率", 1.1},
                                       {"一次\n办成率", 1.1}};
  std::vector<TableRow> rows;
  for (const auto& s : r.sites) rows.push_back(site_table_row(s, false));
  MonthlyReport::SiteRow total = r.total;
  total.name = "全区";
  rows.push_back(site_table_row(total, true));
  draw_table(page, columns, rows);
}

struct Severity {
  std::string label;
  Rgb colour;
};

Severity severity_of(const std::string& severity) {
  if (severity == "notice") return {"提示", kBlue};
  if (severity == "yellow") return {"黄牌", kYellow};
  if (severity == "red") return {"红牌", kRed};
  return {severity, kMuted};
}

// 二、电子监察预警: alerts raised per rule, coloured by severity, and how many are still open.
void draw_alert_section(PageCursor& page, const MonthlyReport& r) {
  draw_heading(page, "二、电子监察预警（按规则与等级）");
  if (r.alerts.empty()) {
    draw_paragraph(page, "本月无预警。");
    return;
  }
  draw_legend(page, {{"提示", kBlue}, {"黄牌", kYellow}, {"红牌", kRed}});
  BarChart chart;
  std::vector<TableRow> rows;
  int64_t raised = 0, open = 0;
  for (const auto& a : r.alerts) {
    const Severity severity = severity_of(a.severity);
    const std::string name = a.name_zh.empty() ? a.rule : a.name_zh;
    chart.full_scale = std::max(chart.full_scale, static_cast<double>(a.raised));
    chart.bars.push_back(
        {name, static_cast<double>(a.raised), std::to_string(a.raised), severity.colour});
    rows.push_back({{name, severity.label, std::to_string(a.raised), std::to_string(a.open)}});
    raised += a.raised;
    open += a.open;
  }
  rows.push_back({{"合计", "", std::to_string(raised), std::to_string(open)}, true});
  draw_bar_chart(page, chart);
  draw_table(page,
             {{"规则", 3.2, Align::kLeft},
              {"等级", 1.0, Align::kCenter},
              {"本月预警", 1.2},
              {"未处理", 1.2}},
             rows);
}

// 差评闭环: what became of the month's 差评 (callback, appeal, rectification, follow-up).
void draw_bad_rating_loop(PageCursor& page, const MonthlyReport::Loop& l) {
  draw_subheading(page, "差评闭环");
  draw_table(
      page,
      {{"差评数", 1},
       {"已回访", 1},
       {"申诉", 1},
       {"申诉\n成立", 1},
       {"已整改", 1},
       {"已追评", 1},
       {"平均回访用时\n(工作日)", 1.5},
       {"平均整改用时\n(工作日)", 1.5},
       {"超时环节", 1.1}},
      {{{std::to_string(l.bad), std::to_string(l.called_back), std::to_string(l.appealed),
         std::to_string(l.upheld), std::to_string(l.rectified), std::to_string(l.followed_up),
         l.called_back > 0 ? one_decimal(l.callback_days) : kNoFigure,
         l.rectified > 0 ? one_decimal(l.rectify_days) : kNoFigure, std::to_string(l.overdue)}}});
  draw_paragraph(page,
                 "注：平均用时只计已回访、已整改的差评；超时环节为超过时限的回访或整改环节数。",
                 {8.5, false, kMuted});
}

// 三、好差评: the month's ratings by level, the 满意率 and the 差评 loop.
void draw_rating_section(PageCursor& page, const MonthlyReport& r) {
  static constexpr const char* kLevels[5] = {"非常不满意(1)", "不满意(2)", "基本满意(3)", "满意(4)",
                                             "非常满意(5)"};
  static constexpr Rgb kLevelColours[5] = {kRed, kRed, kMuted, kGreen, kGreen};
  draw_heading(page, "三、好差评");
  int64_t total = 0;
  for (int64_t n : r.rating_levels) total += n;
  BarChart chart;
  chart.label_width = 90;
  for (size_t i = 0; i < r.rating_levels.size(); ++i) {
    const int64_t n = r.rating_levels[i];
    chart.full_scale = std::max(chart.full_scale, static_cast<double>(n));
    const std::string share = total > 0 ? "（" + percent(n, total) + "）" : "";
    chart.bars.push_back(
        {kLevels[i], static_cast<double>(n), std::to_string(n) + share, kLevelColours[i]});
  }
  draw_bar_chart(page, chart);
  const int64_t satisfied = r.rating_levels[3] + r.rating_levels[4];
  const int64_t bad = r.rating_levels[0] + r.rating_levels[1];
  draw_paragraph(page, "本月共收到评价 " + std::to_string(total) + " 条，满意率 " +
                           percent(satisfied, total) + "（满意与非常满意所占比例），差评 " +
                           std::to_string(bad) + " 条（不满意与非常不满意）。");
  draw_bad_rating_loop(page, r.loop);
}

// 四、就近办: of the district's concluded cases, those concluded where they were received,
// and those done in one visit.
void draw_nearby_section(PageCursor& page, const MonthlyReport& r) {
  const auto& t = r.total;
  draw_heading(page, "四、就近办");
  draw_key_figures(page, {{"就近办结率", percent(t.nearest, t.concluded)},
                          {"一次办成率", percent(t.one_visit, t.concluded)}});
  draw_paragraph(page, "全区本月办结 " + std::to_string(t.concluded) +
                           " 件，其中在受理站点就近办结 " + std::to_string(t.nearest) +
                           " 件，就近办结率 " + percent(t.nearest, t.concluded) + "；一次办成 " +
                           std::to_string(t.one_visit) + " 件，一次办成率 " +
                           percent(t.one_visit, t.concluded) + "。");
}

void draw_report(cairo_t* cr, const MonthlyReport& r) {
  PageCursor page(cr, r.district + " 政务服务月度监察报告 · " + month_label(r.month));
  draw_title(page, r);
  draw_on_time_section(page, r);
  draw_alert_section(page, r);
  draw_rating_section(page, r);
  draw_nearby_section(page, r);
  page.finish();
}

// Whether fontconfig resolves kFontFamily to a Noto Sans CJK face, as cairo's toy API will;
// any other face would draw the Chinese text as empty boxes.
Status check_cjk_font() {
  const Status missing = Status::Make(StatusCode::kInternal, "no_cjk_font",
                                      "未安装中文字体 fonts-noto-cjk，无法生成报告",
                                      "no CJK font (fonts-noto-cjk) to draw the report");
  if (!FcInit()) return missing;
  PatternPtr pattern(FcNameParse(reinterpret_cast<const FcChar8*>(kFontFamily)));
  if (!pattern) return missing;
  FcConfigSubstitute(nullptr, pattern.get(), FcMatchPattern);
  FcDefaultSubstitute(pattern.get());
  FcResult result = FcResultNoMatch;
  PatternPtr match(FcFontMatch(nullptr, pattern.get(), &result));
  FcChar8* family = nullptr;
  for (int i = 0; match && FcPatternGetString(match.get(), FC_FAMILY, i, &family) == FcResultMatch;
       ++i) {
    if (std::string_view(reinterpret_cast<const char*>(family)).starts_with(kCjkFamilyPrefix))
      return Status::Ok();
  }
  return missing;
}

// cairo's write callback: appends the PDF's bytes to the std::string behind `closure`.
cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  try {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  } catch (const std::bad_alloc&) {
    return CAIRO_STATUS_NO_MEMORY;
  }
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Result<std::string> render_report_pdf(const MonthlyReport& report) {
  TB_RETURN_IF_ERROR(check_cjk_font());
  std::string pdf;  // declared first: the surface writes into it until destroyed
  SurfacePtr surface(
      cairo_pdf_surface_create_for_stream(append_to_string, &pdf, kPageWidth, kPageHeight));
  const std::string title = report.district + " 政务服务月度监察报告 " + month_label(report.month);
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, title.c_str());
  // The document's date is the report's, so the same figures always give the same bytes.
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATE_DATE,
                                 format_time(report.generated_at).c_str());
  {
    ContextPtr cr(cairo_create(surface.get()));
    draw_report(cr.get(), report);
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
      return Status::Internal(std::string("cairo could not draw the report: ") +
                              cairo_status_to_string(cairo_status(cr.get())));
  }
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    return Status::Internal(std::string("cairo could not write the report's PDF: ") +
                            cairo_status_to_string(cairo_surface_status(surface.get())));
  surface.reset();
  return pdf;
}

}  // namespace tongban::hub
