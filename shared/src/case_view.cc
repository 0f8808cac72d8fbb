// Views over a case that depend on today's date: deemed acceptance and the clock.
#include <algorithm>

#include "tongban/shared/case.h"

namespace tongban {

namespace {
// 行政许可法 art. 32: the office answers within 5 working days.
constexpr int kAcceptanceAnswerDays = 5;
}  // namespace

Date deemed_acceptance_date(const CaseState& s, const WorkCalendar& cal) {
  return cal.add_working_days(s.submitted_date, kAcceptanceAnswerDays);
}

bool is_deemed_accepted(const CaseState& s, Date today, const WorkCalendar& cal) {
  return s.status == CaseStatus::kSubmitted && today > deemed_acceptance_date(s, cal);
}

const char* to_string(ClockColor c) {
  switch (c) {
    case ClockColor::kNone:
      return "none";
    case ClockColor::kNormal:
      return "normal";
    case ClockColor::kYellow:
      return "yellow";
    case ClockColor::kRed:
      return "red";
    case ClockColor::kPaused:
      return "paused";
    case ClockColor::kDone:
      return "done";
  }
  return "?";
}

std::optional<ClockColor> clock_color_from(const std::string& s) {
  for (ClockColor c : {ClockColor::kNormal, ClockColor::kYellow, ClockColor::kRed,
                       ClockColor::kPaused, ClockColor::kDone, ClockColor::kNone})
    if (s == to_string(c)) return c;
  return std::nullopt;
}

ClockView clock_of(const CaseState& s, Date today, const WorkCalendar& cal, int yellow_days) {
  ClockView v;
  std::optional<Date> start = s.accepted_date;
  if (!start && is_deemed_accepted(s, today, cal)) start = s.submitted_date;
  if (!start) return v;

  // 行政许可法 art. 45: the working days spent suspended (hearing, testing, expert review,
  // 补正) do not count, and only those. A day is given back when the case ended it
  // suspended: the day of suspension is, the day of resumption is not (the case is worked
  // again that day), and the start day, which never counted, is never given back. A pause
  // still open runs to today, so its deadline is the one resuming today would give.
  int paused_days = 0;
  for (const Pause& p : s.pauses) {
    const Date end = p.to ? *p.to : (s.decided_date ? *s.decided_date : today);
    // Working days d with max(from, start + 1) <= d < end.
    paused_days += cal.working_days_between(std::max(p.from + -1, *start), end + -1);
  }
  const Date deadline = cal.add_working_days(*start, s.promised_days + paused_days);
  v.deadline = deadline;
  v.start = start;
  v.paused_working_days = paused_days;
  v.yellow_from = cal.subtract_working_days(deadline, yellow_days);
  v.unpublished_year = !cal.is_published(year_of(deadline));

  if (s.decided_date || !is_active(s.status)) {
    v.color = ClockColor::kDone;
    v.overdue_at_decision = s.decided_date && *s.decided_date > deadline;
    return v;
  }
  v.remaining_working_days = today <= deadline ? cal.working_days_between(today, deadline)
                                               : -cal.working_days_between(deadline, today);
  if (s.paused())
    v.color = ClockColor::kPaused;
  else if (today > deadline)
    v.color = ClockColor::kRed;
  else if (today >= *v.yellow_from)
    v.color = ClockColor::kYellow;
  else
    v.color = ClockColor::kNormal;
  return v;
}

}  // namespace tongban
