#include "tongban/shared/calendar.h"

#include <catch2/catch.hpp>
#include <limits>

#include "support/test_support.h"

using namespace tongban;

namespace {
Date d(int y, int m, int day) { return date_from_ymd(y, m, day); }
const WorkCalendar& cal() { return test::sample_district().calendar; }
}  // namespace

TEST_CASE("civil dates round-trip and know their weekday", "[shared][calendar]") {
  CHECK(format_date(d(2026, 10, 8)) == "2026-10-08");
  CHECK(parse_date("2026-10-08") == d(2026, 10, 8));
  CHECK(weekday(d(2026, 11, 26)) == 3);  // Thursday
  CHECK(weekday(d(1970, 1, 1)) == 3);
  CHECK_FALSE(parse_date("2026-02-30"));
  CHECK_FALSE(parse_date("2026-2-3"));
  CHECK(date_of(test::at(2026, 3, 1, 0)) == d(2026, 3, 1));  // midnight CST is still that day
  CHECK(format_time(test::at(2026, 3, 1, 9)) == "2026-03-01T09:00:00+08:00");
}

// Found by fuzzing (tests/fuzz/wire/crash-334046…): a signed event whose time is near
// INT64_MAX overflowed (undefined behaviour) when a case was rendered.
TEST_CASE("times beyond years 1 to 9999 render as those bounds", "[shared][calendar]") {
  CHECK(format_time(std::numeric_limits<Timestamp>::max()) == "9999-12-31T23:59:59+08:00");
  CHECK(format_time(std::numeric_limits<Timestamp>::min()) == "0001-01-01T08:00:00+08:00");
  CHECK(date_of(std::numeric_limits<Timestamp>::max() - 1) == d(9999, 12, 31));
}

TEST_CASE("working days skip the National Day holiday and count the adjusted Saturday",
          "[shared][calendar]") {
  // Sept 30 (Wed) + 3 working days: Oct 1–7 are off, Oct 8 (Thu), Oct 9 (Fri), and
  // Oct 10 is a Saturday made a working day (调休).
  CHECK(cal().add_working_days(d(2026, 9, 30), 3) == d(2026, 10, 10));
  CHECK(cal().is_working_day(d(2026, 10, 10)));
  CHECK_FALSE(cal().is_working_day(d(2026, 10, 5)));
  CHECK_FALSE(cal().is_working_day(d(2026, 10, 11)));  // an ordinary Sunday
  CHECK(cal().working_days_between(d(2026, 9, 30), d(2026, 10, 12)) == 4);
}

TEST_CASE("working days across the Spring Festival", "[shared][calendar]") {
  // Fri Feb 13, then Sat Feb 14 is worked, Feb 15–23 off, Tue Feb 24 is next.
  CHECK(cal().add_working_days(d(2026, 2, 13), 1) == d(2026, 2, 14));
  CHECK(cal().add_working_days(d(2026, 2, 13), 2) == d(2026, 2, 24));
  CHECK(cal().subtract_working_days(d(2026, 2, 24), 1) == d(2026, 2, 14));
}

TEST_CASE("a year without a published schedule counts weekends only", "[shared][calendar]") {
  CHECK(cal().is_published(2026));
  CHECK_FALSE(cal().is_published(2027));
  // 2027-01-01 is a Friday: without a published schedule it is an ordinary working day.
  CHECK(cal().is_working_day(d(2027, 1, 1)));
  CHECK(cal().add_working_days(d(2026, 12, 31), 1) == d(2027, 1, 1));
}

TEST_CASE("working days between two dates equal a count day by day over any range",
          "[shared][calendar]") {
  const WorkCalendar& cal = test::sample_district().calendar;
  const Date base = date_from_ymd(2025, 12, 20);
  for (int from = 0; from < 120; from += 3) {
    for (int len = 0; len < 500; len += 7) {
      const Date a = base + from, b = a + len;
      int slow = 0;
      for (Date d = a + 1; d <= b; d = d + 1) slow += cal.is_working_day(d) ? 1 : 0;
      INFO(format_date(a) << " .. " << format_date(b));
      REQUIRE(cal.working_days_between(a, b) == slow);
    }
  }
  CHECK(cal.working_days_between(base + 5, base) == 0);
}
