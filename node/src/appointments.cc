// Appointments (预约): slots per window, including 5+2 extended hours (延时服务,
// measure 13), booking, check-in and cancellation. Each change is an event in the log.
#include <spdlog/spdlog.h>

#include "tongban/node/case_service.h"
#include "tongban/shared/validation.h"

namespace tongban::node {

namespace {

constexpr int kBookingHorizonDays = 30;

void add_times(std::vector<Slot>& out, int from_min, int to_min, bool extended, int capacity) {
  for (int m = from_min; m <= to_min; m += 30) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60, m % 60);
    out.push_back(Slot{buf, extended, capacity, 0});
  }
}

// Working days: 09:00–11:30 and 13:30–16:30; extended-hours sites add 17:00–18:30 and
// open weekend mornings (not public holidays) 09:00–11:30.
std::vector<Slot> slot_plan(Date d, const WorkCalendar& cal, const SiteConfig& site) {
  std::vector<Slot> out;
  if (cal.is_working_day(d)) {
    add_times(out, 9 * 60, 11 * 60 + 30, false, site.windows);
    add_times(out, 13 * 60 + 30, 16 * 60 + 30, false, site.windows);
    if (site.extended_hours) add_times(out, 17 * 60, 18 * 60 + 30, true, site.windows);
  } else if (site.extended_hours && !cal.is_holiday(d)) {
    add_times(out, 9 * 60, 11 * 60 + 30, true, site.windows);
  }
  return out;
}

Status closed() {
  return Status::Rejected("slot_unavailable", "该时段不可预约（非办公时间或已约满）",
                          "that slot is not open or is fully booked");
}

}  // namespace

Result<std::vector<Slot>> CaseService::slots(Date date) {
  std::vector<Slot> plan = slot_plan(date, district_.calendar, site_);
  for (Slot& s : plan) {
    auto n = store_.booked_count(format_date(date), s.time);
    if (!n.ok()) return n.status();
    s.booked = *n;
  }
  return plan;
}

Result<Appointment> CaseService::book(const BookingInput& in, const Actor& actor) {
  if (actor.role != Role::kClerk && actor.role != Role::kAgent)
    return Status::PermissionDenied("forbidden_role", "当前岗位无权预约",
                                    "only clerks and agents book");
  if (!handles(in.item_code))
    return Status::Rejected("item_not_handled_here", "本站点不受理该事项",
                            "this site does not handle that item");
  const auto date = parse_date(in.date);
  if (!date)
    return Status::InvalidArgument("invalid_date", "日期格式应为YYYY-MM-DD",
                                   "date must be YYYY-MM-DD");
  if (*date < today() || *date - today() > kBookingHorizonDays)
    return Status::InvalidArgument("invalid_date", "只能预约今天起30天内的时段",
                                   "book within the next 30 days");
  // The applicant as an application would check it: a booking with enterprise: true and an
  // invalid USCC was stored (issue 8).
  TB_RETURN_IF_ERROR(validate_applicant(in.applicant, today()));
  const std::vector<Slot> plan = slot_plan(*date, district_.calendar, site_);
  auto slot =
      std::find_if(plan.begin(), plan.end(), [&](const Slot& s) { return s.time == in.slot; });
  if (slot == plan.end()) return closed();

  std::string id;
  auto appended = store_.write([&](NodeStore::Writer& w) -> Status {
    auto same_day = w.appointments_on(in.date, "");
    if (!same_day.ok()) return same_day.status();
    int booked = 0;
    for (const Appointment& a : *same_day) {
      if (a.status == "cancelled") continue;
      if (a.slot == in.slot) ++booked;
      if (a.applicant.id_number() == in.applicant.id_number() && a.slot == in.slot)
        return Status::Conflict("already_booked", "该申请人已预约此时段",
                                "the applicant already holds this slot");
    }
    if (booked >= slot->capacity) return closed();
    auto n = w.next_number("appointment-" + in.date);
    if (!n.ok()) return n.status();
    char num[8];
    std::snprintf(num, sizeof num, "%04lld", static_cast<long long>(*n));
    std::string compact = in.date;
    std::erase(compact, '-');
    id = "APT-" + site_.id + "-" + compact + "-" + num;
    pb::CaseEvent e;
    auto* b = e.mutable_appointment_booked();
    b->set_appointment_id(id);
    b->set_item_code(in.item_code);
    b->set_date(in.date);
    b->set_slot(in.slot);
    b->set_window(booked + 1);
    *b->mutable_applicant() = in.applicant;
    b->set_agent(actor.role == Role::kAgent ? actor.username : "");
    b->set_extended_hours(slot->extended_hours);
    CaseState scratch;  // appointment events fold to no case
    return w.append(scratch, id, e, actor.username, w.now());
  });
  if (!appended.ok()) return appended.status();
  committed();
  spdlog::info("appointment {} booked for {} {}", id, in.date, in.slot);
  auto stored = store_.appointment(id);
  if (!stored.ok()) return stored.status();
  return **stored;
}

Result<Appointment> CaseService::change_appointment(
    const std::string& id, pb::CaseEvent e, const Actor& actor,
    const std::function<Status(const Appointment&, Date today)>& check) {
  auto appended = store_.write([&](NodeStore::Writer& w) -> Status {
    auto a = w.appointment(id);
    if (!a.ok()) return a.status();
    if (!*a) return Status::NotFound("not_found", "预约不存在", "appointment not found");
    TB_RETURN_IF_ERROR(check(**a, date_of(w.now())));  // under the store's lock: not today()
    if ((*a)->status != "booked")
      return Status::Conflict("invalid_transition", "该预约已签到或已取消",
                              "appointment is not in booked state");
    CaseState scratch;  // appointment events fold to no case
    return w.append(scratch, id, e, actor.username, w.now());
  });
  if (!appended.ok()) return appended.status();
  committed();
  auto stored = store_.appointment(id);
  if (!stored.ok()) return stored.status();
  return **stored;
}

Result<Appointment> CaseService::check_in(const std::string& id, const Actor& actor) {
  if (actor.role != Role::kClerk)
    return Status::PermissionDenied("forbidden_role", "只有综窗人员可以签到",
                                    "only clerks check in");
  pb::CaseEvent e;
  e.mutable_appointment_checked_in()->set_appointment_id(id);
  return change_appointment(id, std::move(e), actor, [&](const Appointment& a, Date today) {
    if (a.status == "booked" && a.date != format_date(today))
      return Status::Conflict("not_today", "只能在预约当天签到",
                              "check in on the appointment's day only");
    return Status::Ok();
  });
}

Result<Appointment> CaseService::cancel(const std::string& id, const Actor& actor) {
  pb::CaseEvent e;
  e.mutable_appointment_cancelled()->set_appointment_id(id);
  return change_appointment(id, std::move(e), actor, [&](const Appointment& a, Date) {
    if (actor.role == Role::kAgent ? a.agent != actor.username : actor.role != Role::kClerk)
      return Status::PermissionDenied("forbidden_role", "无权取消该预约",
                                      "may not cancel this appointment");
    return Status::Ok();
  });
}

}  // namespace tongban::node
