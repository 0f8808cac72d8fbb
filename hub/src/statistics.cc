#include "tongban/hub/statistics.h"

namespace tongban::hub {

CaseFacts facts_of(const CaseState& s, const District& district) {
  CaseFacts f;
  f.case_id = s.case_id;
  f.site = s.owner;
  f.origin = s.origin;
  f.department = s.department;
  f.item_code = s.item_code;
  f.staff = s.decided_by;
  if (s.submitted_date.days) f.received = s.submitted_date;
  f.concluded = s.decided_date ? s.decided_date : s.closed_date;
  f.decided = s.decided_date.has_value();
  f.promised_days = s.promised_days;
  f.legal_days = s.legal_days;
  const ClockView clock = clock_of(s, date_of(s.updated_at), district.calendar, 0);
  if (f.decided && clock.start) {
    f.on_time = !clock.overdue_at_decision;
    f.used_working_days = std::max(
        0, district.calendar.working_days_between(*clock.start, *s.decided_date) -
               clock.paused_working_days);
  }
  f.deemed = s.deemed_accepted;
  f.tolerated = s.supply_deadline.has_value();
  f.broke_commitment = s.broke_commitment;
  f.one_visit = f.concluded && !s.materials_requested && !f.tolerated;
  // Every site is near someone: a case counts as 就近办 when the site that received the
  // applicant also decided it (no hand-over of the whole case); 收受分离 cases are the rest.
  f.nearest = f.concluded && s.owner == s.origin;
  f.active = is_active(s.status);
  f.paused = s.paused();
  if (f.active) f.deadline = clock.deadline;
  if (s.rating) {
    const RatingState& r = *s.rating;
    f.rating = r.level;
    f.rated = r.rated;
    f.served_by = r.served_by;
    f.rated_site = s.origin;  // the receiving site delivers and runs the loop (收受分离)
    // The window of the site where the ticket was used (the rating's own origin).
    if (r.window > 0) f.rated_window = (r.site.empty() ? s.origin : r.site) + "-" + std::to_string(r.window);
    f.appeal = !r.appealed ? 0 : r.appeal_pending() ? 1 : r.appeal_upheld ? 2 : 3;
  }
  return f;
}

}  // namespace tongban::hub
