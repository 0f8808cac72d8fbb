// Civil dates and the working-day calendar.
//
// 行政许可法 art. 82: time limits count working days only. A working day is a weekday that
// is not a public holiday, or a weekend day the State Council made a working day (调休).
// All civil dates are China Standard Time (UTC+8, no daylight saving).
//
// Thread safety: WorkCalendar is immutable after construction; const methods are safe
// from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace tongban {

// Days since 1970-01-01 (CST). A strong type so a date never mixes with a count.
struct Date {
  int32_t days = 0;
  auto operator<=>(const Date&) const = default;
  Date operator+(int32_t n) const { return Date{days + n}; }
  int32_t operator-(Date other) const { return days - other.days; }
};

// Unix seconds.
using Timestamp = int64_t;

Date date_from_ymd(int year, int month, int day);
void ymd_from_date(Date d, int& year, int& month, int& day);
int year_of(Date d);
// The first and the last day of `d`'s month.
Date first_of_month(Date d);
Date last_of_month(Date d);
// 0 = Monday … 6 = Sunday.
int weekday(Date d);
// "2026-10-08"; parse returns nullopt for anything but a real calendar date.
std::string format_date(Date d);
std::optional<Date> parse_date(std::string_view text);
// The CST civil date of a Unix time; times outside years 1..9999 count as their bound.
Date date_of(Timestamp ts);
// The first second of `d` (00:00 CST).
Timestamp start_of(Date d);
// "2026-10-08T09:30:00+08:00"
std::string format_time(Timestamp ts);

class WorkCalendar {
 public:
  WorkCalendar() = default;

  // Declares that `year`'s official schedule is known; days of unpublished years count
  // ordinary weekends only.
  void add_published_year(int year) { published_years_.insert(year); }
  void add_holiday(Date d) { holidays_.insert(d.days); }
  void add_adjusted_workday(Date d) { adjusted_workdays_.insert(d.days); }

  bool is_working_day(Date d) const;
  bool is_holiday(Date d) const { return holidays_.count(d.days) != 0; }
  bool is_published(int year) const { return published_years_.count(year) != 0; }

  // The date on which `n` working days after `start` have passed (start itself does not
  // count). n <= 0 returns start.
  Date add_working_days(Date start, int n) const;
  // Working days d with from < d <= to; 0 when to <= from.
  int working_days_between(Date from, Date to) const;
  // The working day that lies `n` working days before `d` (n <= 0 returns d).
  Date subtract_working_days(Date d, int n) const;

 private:
  std::set<int32_t> holidays_;
  std::set<int32_t> adjusted_workdays_;
  std::set<int> published_years_;
};

}  // namespace tongban
