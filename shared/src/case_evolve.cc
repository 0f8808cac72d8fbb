// evolve: state + event -> state. Never fails: decide validated the event.
#include "tongban/shared/case.h"

#include <cctype>

namespace tongban {

const char* to_string(CaseStatus s) {
  switch (s) {
    case CaseStatus::kNone:
      return "none";
    case CaseStatus::kPreReview:
      return "prereview";
    case CaseStatus::kPreReviewed:
      return "prereviewed";
    case CaseStatus::kSubmitted:
      return "submitted";
    case CaseStatus::kAwaitingMaterials:
      return "awaiting_materials";
    case CaseStatus::kAccepted:
      return "accepted";
    case CaseStatus::kInReview:
      return "in_review";
    case CaseStatus::kSuspended:
      return "suspended";
    case CaseStatus::kApproved:
      return "approved";
    case CaseStatus::kDenied:
      return "denied";
    case CaseStatus::kDelivered:
      return "delivered";
    case CaseStatus::kRefused:
      return "refused";
    case CaseStatus::kWithdrawn:
      return "withdrawn";
    case CaseStatus::kTerminated:
      return "terminated";
  }
  return "?";
}

const char* label_zh(CaseStatus s) {
  switch (s) {
    case CaseStatus::kNone:
      return "无";
    case CaseStatus::kPreReview:
      return "预审中";
    case CaseStatus::kPreReviewed:
      return "预审完成";
    case CaseStatus::kSubmitted:
      return "待受理";
    case CaseStatus::kAwaitingMaterials:
      return "待补正";
    case CaseStatus::kAccepted:
      return "已受理";
    case CaseStatus::kInReview:
      return "审查中";
    case CaseStatus::kSuspended:
      return "已中止";
    case CaseStatus::kApproved:
      return "准予办理";
    case CaseStatus::kDenied:
      return "不予办理";
    case CaseStatus::kDelivered:
      return "已出件";
    case CaseStatus::kRefused:
      return "不予受理";
    case CaseStatus::kWithdrawn:
      return "已撤回";
    case CaseStatus::kTerminated:
      return "已终止";
  }
  return "?";
}

std::optional<CaseStatus> case_status_from(const std::string& s) {
  for (int i = static_cast<int>(CaseStatus::kPreReview);
       i <= static_cast<int>(CaseStatus::kTerminated); ++i) {
    const auto st = static_cast<CaseStatus>(i);
    if (s == to_string(st)) return st;
  }
  return std::nullopt;
}

bool is_active(CaseStatus s) {
  switch (s) {
    case CaseStatus::kSubmitted:
    case CaseStatus::kAwaitingMaterials:
    case CaseStatus::kAccepted:
    case CaseStatus::kInReview:
    case CaseStatus::kSuspended:
      return true;
    default:
      return false;
  }
}

bool valid_case_id(std::string_view id) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 8 || id.size() != dash + 16)
    return false;
  if (id[0] < 'A' || id[0] > 'Z') return false;
  for (size_t i = 1; i < dash; ++i)
    if (!std::isupper(static_cast<unsigned char>(id[i])) &&
        !std::isdigit(static_cast<unsigned char>(id[i])))
      return false;
  for (size_t i = dash + 1; i < id.size(); ++i) {
    const bool sep = i == dash + 9;
    if (sep ? id[i] != '-' : !std::isdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

std::string event_kind(const pb::CaseEvent& e) {
  const auto* field = e.GetDescriptor()->FindFieldByNumber(static_cast<int>(e.body_case()));
  return field ? "case." + field->name() : "case.empty";
}

namespace {

std::vector<CaseMaterial> materials_from(
    const google::protobuf::RepeatedPtrField<pb::Material>& in) {
  std::vector<CaseMaterial> out;
  for (const pb::Material& m : in)
    out.push_back({m.code(), m.name(), m.required(), m.key(), m.status()});
  return out;
}

void set_material_status(CaseState& s, const std::string& code, const std::string& status) {
  for (CaseMaterial& m : s.materials)
    if (m.code == code) m.status = status;
}

void erase_value(std::vector<std::string>& v, const std::string& x) { std::erase(v, x); }

void apply_application(CaseState& s, const pb::Submitted& e) {
  s.item_code = e.item_code();
  s.item_name = e.item_name();
  s.department = e.department();
  s.catalog_version = e.catalog_version();
  s.applicant = e.applicant();
  s.materials = materials_from(e.materials());
  s.form.clear();
  for (const pb::FormField& f : e.form()) s.form[f.name()] = f.value();
  s.agent = e.agent();
  s.authorization = e.authorization();
  s.promised_days = e.promised_days();
  s.legal_days = e.legal_days();
  s.parts.clear();
  for (const pb::Part& p : e.parts())
    s.parts.push_back({p.item_code(), p.item_name(), p.department(), "", ""});
  s.channel = e.channel();
  s.appointment_id = e.appointment_id();
  s.submitted_date = Date{e.submitted_date()};
  s.status = CaseStatus::kSubmitted;
}

void apply_decision(CaseState& s, const pb::Decided& e) {
  s.instant = s.instant || e.instant();
  if (e.part_item_code().empty()) {
    s.status = e.approved() ? CaseStatus::kApproved : CaseStatus::kDenied;
    s.reason = e.reason();
    s.decided_date = Date{e.decided_date()};
    for (CasePart& p : s.parts) p.decision = e.approved() ? "approved" : "denied";
    return;
  }
  bool all_decided = true, any_approved = false;
  for (CasePart& p : s.parts) {
    if (p.item_code == e.part_item_code()) {
      p.decision = e.approved() ? "approved" : "denied";
      p.reason = e.reason();
    }
    all_decided = all_decided && !p.decision.empty();
    any_approved = any_approved || p.decision == "approved";
  }
  if (all_decided) {
    // 一件事: complete when every part is; approved when any part yields a result.
    s.status = any_approved ? CaseStatus::kApproved : CaseStatus::kDenied;
    s.decided_date = Date{e.decided_date()};
  } else if (s.status == CaseStatus::kAccepted) {
    s.status = CaseStatus::kInReview;
  }
}

}  // namespace

void evolve(CaseState& s, const pb::CaseEvent& e, const EventMeta& meta) {
  if (!s.exists()) {
    s.case_id = meta.case_id;
    s.origin = meta.origin;
    s.created_at = meta.ts;
  }
  s.updated_at = meta.ts;
  ++s.event_count;
  switch (e.body_case()) {
    case pb::CaseEvent::kPrereviewStarted: {
      const auto& p = e.prereview_started();
      s.item_code = p.item_code();
      s.item_name = p.item_name();
      s.catalog_version = p.catalog_version();
      s.applicant = p.applicant();
      s.materials = materials_from(p.materials());
      for (const pb::FormField& f : p.form()) s.form[f.name()] = f.value();
      s.agent = p.agent();
      s.authorization = p.authorization();
      s.appointment_id = p.appointment_id();
      s.channel = p.channel();
      s.status = CaseStatus::kPreReview;
      break;
    }
    case pb::CaseEvent::kPrereviewOutcome:
      s.prereview_passed = e.prereview_outcome().passed();
      s.prereview_missing.assign(e.prereview_outcome().missing().begin(),
                                 e.prereview_outcome().missing().end());
      s.status = CaseStatus::kPreReviewed;
      break;
    case pb::CaseEvent::kSubmitted:
      apply_application(s, e.submitted());
      break;
    case pb::CaseEvent::kMaterialsRequested:
      s.materials_requested = true;
      s.requested_missing.assign(e.materials_requested().missing().begin(),
                                 e.materials_requested().missing().end());
      s.status = CaseStatus::kAwaitingMaterials;
      break;
    case pb::CaseEvent::kMaterialsSupplied: {
      const auto& m = e.materials_supplied();
      for (const std::string& c : m.provided()) {
        set_material_status(s, c, "provided");
        erase_value(s.tolerated, c);
        erase_value(s.requested_missing, c);
      }
      for (const std::string& c : m.committed()) {
        set_material_status(s, c, "committed");
        erase_value(s.tolerated, c);
        erase_value(s.requested_missing, c);
      }
      if (s.tolerated.empty()) s.supply_deadline.reset();
      if (s.status == CaseStatus::kAwaitingMaterials) {
        // After 补正 the office has a fresh answer period.
        s.status = CaseStatus::kSubmitted;
        s.submitted_date = Date{m.supplied_date()};
      }
      break;
    }
    case pb::CaseEvent::kAccepted: {
      const auto& a = e.accepted();
      s.status = CaseStatus::kAccepted;
      s.accepted_date = Date{a.accepted_date()};
      s.deemed_accepted = a.deemed();
      s.tolerated.assign(a.tolerated().begin(), a.tolerated().end());
      for (const std::string& c : s.tolerated) set_material_status(s, c, "tolerated");
      if (!s.tolerated.empty()) s.supply_deadline = Date{a.supply_deadline_date()};
      s.commitment_signed = a.commitment_signed();
      break;
    }
    case pb::CaseEvent::kRefused:
      s.status = CaseStatus::kRefused;
      s.reason = e.refused().reason();
      break;
    case pb::CaseEvent::kReviewStarted:
      s.status = CaseStatus::kInReview;
      break;
    case pb::CaseEvent::kSuspended:
      s.pauses.push_back({e.suspended().reason(), Date{e.suspended().from_date()}, std::nullopt});
      s.status = CaseStatus::kSuspended;
      break;
    case pb::CaseEvent::kResumed:
      if (!s.pauses.empty()) s.pauses.back().to = Date{e.resumed().to_date()};
      s.status = CaseStatus::kInReview;
      break;
    case pb::CaseEvent::kDecided:
      apply_decision(s, e.decided());
      break;
    case pb::CaseEvent::kLicenseIssued: {
      static constexpr char kHex[] = "0123456789abcdef";
      s.license_no = e.license_issued().license_no();
      s.license_payload = e.license_issued().payload();
      s.license_signature.clear();
      for (unsigned char c : e.license_issued().signature()) {
        s.license_signature.push_back(kHex[c >> 4]);
        s.license_signature.push_back(kHex[c & 15]);
      }
      break;
    }
    case pb::CaseEvent::kWithdrawn:
      s.status = CaseStatus::kWithdrawn;
      s.reason = e.withdrawn().reason();
      break;
    case pb::CaseEvent::kTerminated:
      s.status = CaseStatus::kTerminated;
      s.reason = e.terminated().reason();
      s.broke_commitment = e.terminated().broke_commitment();
      break;
    case pb::CaseEvent::kDelivered:
      s.status = CaseStatus::kDelivered;
      s.delivery_method = e.delivered().method();
      s.tracking_no = e.delivered().tracking_no();
      break;
    case pb::CaseEvent::kRated: {
      const auto& r = e.rated();
      RatingState rating;
      rating.level = r.level();
      rating.comment = r.comment();
      rating.rated = Date{r.rated_date()};
      if (r.callback_due_date()) rating.callback_due = Date{r.callback_due_date()};
      if (r.rectify_due_date()) rating.rectify_due = Date{r.rectify_due_date()};
      s.rating = rating;
      break;
    }
    case pb::CaseEvent::kCallbackDone:
      if (s.rating) s.rating->callback_done = Date{e.callback_done().done_date()};
      break;
    case pb::CaseEvent::kRectified:
      if (s.rating) s.rating->rectified = Date{e.rectified().done_date()};
      break;
    case pb::CaseEvent::kAppointmentBooked:
    case pb::CaseEvent::kAppointmentCheckedIn:
    case pb::CaseEvent::kAppointmentCancelled:
    case pb::CaseEvent::BODY_NOT_SET:
      break;
  }
}

}  // namespace tongban
