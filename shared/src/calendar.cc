#include "tongban/shared/calendar.h"

#include <algorithm>
#include <cstdio>

namespace tongban {

namespace {
constexpr int64_t kCstOffsetSeconds = 8 * 3600;
constexpr int64_t kSecondsPerDay = 86400;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

// Howard Hinnant's days_from_civil / civil_from_days.
Date date_from_ymd(int year, int month, int day) {
  year -= month <= 2;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return Date{era * 146097 + static_cast<int32_t>(doe) - 719468};
}

void ymd_from_date(Date d, int& year, int& month, int& day) {
  const int32_t z = d.days + 719468;
  const int32_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(yoe) + era * 400 + (month <= 2);
}

int year_of(Date d) {
  int y, m, dd;
  ymd_from_date(d, y, m, dd);
  return y;
}

Date first_of_month(Date d) {
  int y, m, dd;
  ymd_from_date(d, y, m, dd);
  return date_from_ymd(y, m, 1);
}

Date last_of_month(Date d) {
  int y, m, dd;
  ymd_from_date(d, y, m, dd);
  return (m == 12 ? date_from_ymd(y + 1, 1, 1) : date_from_ymd(y, m + 1, 1)) + -1;
}

int weekday(Date d) {
  // 1970-01-01 was a Thursday (index 3).
  return static_cast<int>(((d.days % 7) + 7 + 3) % 7);
}

std::string format_date(Date d) {
  int y, m, dd;
  ymd_from_date(d, y, m, dd);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, dd);
  return buf;
}

std::optional<Date> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lens[3] = {4, 2, 2};
  for (int i = 0; i < 3; ++i) {
    for (size_t k = 0; k < lens[i]; ++k) {
      const char c = text[starts[i] + k];
      if (c < '0' || c > '9') return std::nullopt;
      parts[i] = parts[i] * 10 + (c - '0');
    }
  }
  if (parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31) return std::nullopt;
  const Date d = date_from_ymd(parts[0], parts[1], parts[2]);
  int y, m, dd;
  ymd_from_date(d, y, m, dd);
  if (y != parts[0] || m != parts[1] || dd != parts[2]) return std::nullopt;  // e.g. 02-30
  return d;
}

namespace {
// Events carry their origin's clock, signed: a node with a wild clock (or a forged frame
// the fuzzer makes) may say year 292 billion. Dates are computed within years 1..9999.
Timestamp clamp_ts(Timestamp ts) {
  constexpr Timestamp kFirst = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr Timestamp kLast = 253402271999;   // 9999-12-31T15:59:59Z (23:59:59 in CST)
  return std::clamp(ts, kFirst, kLast);
}
}  // namespace

Date date_of(Timestamp ts) {
  return Date{static_cast<int32_t>(floor_div(clamp_ts(ts) + kCstOffsetSeconds, kSecondsPerDay))};
}

Timestamp start_of(Date d) {
  return static_cast<Timestamp>(d.days) * kSecondsPerDay - kCstOffsetSeconds;
}

std::string format_time(Timestamp ts) {
  ts = clamp_ts(ts);
  const Date d = date_of(ts);
  const int64_t sec = (ts + kCstOffsetSeconds) - static_cast<int64_t>(d.days) * kSecondsPerDay;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d+08:00", format_date(d).c_str(),
                static_cast<int>(sec / 3600), static_cast<int>(sec / 60 % 60),
                static_cast<int>(sec % 60));
  return buf;
}

bool WorkCalendar::is_working_day(Date d) const {
  if (adjusted_workdays_.count(d.days)) return true;
  if (holidays_.count(d.days)) return false;
  return weekday(d) < 5;
}

Date WorkCalendar::add_working_days(Date start, int n) const {
  Date d = start;
  while (n > 0) {
    d = d + 1;
    if (is_working_day(d)) --n;
  }
  return d;
}

int WorkCalendar::working_days_between(Date from, Date to) const {
  if (to <= from) return 0;
  // Weekdays in (from, to] by whole weeks, the rest day by day; then the published
  // exceptions inside the range (a holiday on a weekday, a weekend day made a workday). An
  // overdue case's clock spans months: this stays a handful of steps, not one per day.
  const int32_t days = to.days - from.days;
  int n = days / 7 * 5;
  for (Date d = from + (days / 7 * 7 + 1); d <= to; d = d + 1) n += weekday(d) < 5 ? 1 : 0;
  for (auto it = holidays_.upper_bound(from.days); it != holidays_.end() && *it <= to.days; ++it)
    if (weekday(Date{*it}) < 5 && !adjusted_workdays_.count(*it)) --n;
  for (auto it = adjusted_workdays_.upper_bound(from.days);
       it != adjusted_workdays_.end() && *it <= to.days; ++it)
    if (weekday(Date{*it}) >= 5) ++n;
  return n;
}

Date WorkCalendar::subtract_working_days(Date d, int n) const {
  while (n > 0) {
    d = d + -1;
    if (is_working_day(d)) --n;
  }
  return d;
}

}  // namespace tongban
