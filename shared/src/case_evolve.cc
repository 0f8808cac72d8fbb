// evolve: state + event -> state. Never fails: decide validated the event.
#include "tongban/shared/case.h"

#include <algorithm>
#include <cctype>
#include <mutex>

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

bool is_final(CaseStatus s) {
  switch (s) {
    case CaseStatus::kApproved:
    case CaseStatus::kDenied:
    case CaseStatus::kDelivered:
    case CaseStatus::kRefused:
    case CaseStatus::kWithdrawn:
    case CaseStatus::kTerminated:
      return true;
    default:
      return false;
  }
}

bool valid_site_id(std::string_view id) {
  if (id.empty() || id.size() > 8 || id[0] < 'A' || id[0] > 'Z') return false;
  for (size_t i = 1; i < id.size(); ++i)
    if (!std::isupper(static_cast<unsigned char>(id[i])) &&
        !std::isdigit(static_cast<unsigned char>(id[i])))
      return false;
  return true;
}

bool valid_case_id(std::string_view id) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 8 || id.size() != dash + 16)
    return false;
  if (!valid_site_id(id.substr(0, dash))) return false;
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

void add_note(CaseState& s, NoteKind kind, const std::string& text, const EventMeta& meta) {
  if (!text.empty()) s.notes.push_back({kind, text, meta.actor, meta.ts});
}

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
  if (e.has_fee_fen()) s.fee_fen = e.fee_fen(); else s.fee_fen.reset();
  s.parts.clear();
  for (const pb::Part& p : e.parts()) {
    CasePart part;
    part.item_code = p.item_code();
    part.item_name = p.item_name();
    part.department = p.department();
    s.parts.push_back(std::move(part));
  }
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
    s.decided_department = e.department();
    for (CasePart& p : s.parts) p.decision = e.approved() ? "approved" : "denied";
    return;
  }
  bool all_decided = true, any_approved = false;
  for (CasePart& p : s.parts) {
    if (p.item_code == e.part_item_code()) {
      p.decision = e.approved() ? "approved" : "denied";
      p.reason = e.reason();
      p.decided_department = e.department();
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

bool one_of(CaseStatus s, std::initializer_list<CaseStatus> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// Whether an act can follow the state as replayed (the transitions decide allows). Checked
// only once a case has moved: two sites that did not hear each other can each have made a
// valid step from the same state, and the later one in the merged order may not fit.
bool fits(const CaseState& s, const pb::CaseEvent& e) {
  using S = CaseStatus;
  switch (e.body_case()) {
    case pb::CaseEvent::kAccepted:
    case pb::CaseEvent::kMaterialsRequested:
      return s.status == S::kSubmitted;
    case pb::CaseEvent::kRefused:
      return one_of(s.status, {S::kSubmitted, S::kAwaitingMaterials});
    case pb::CaseEvent::kReviewStarted:  // a part decided elsewhere may have started it
      return one_of(s.status, {S::kAccepted, S::kInReview});
    case pb::CaseEvent::kSuspended:
      return one_of(s.status, {S::kAccepted, S::kInReview});
    case pb::CaseEvent::kResumed:
      return s.status == S::kSuspended;
    case pb::CaseEvent::kDecided: {
      if (!one_of(s.status, {S::kAccepted, S::kInReview})) return false;
      const std::string& part = e.decided().part_item_code();
      for (const CasePart& p : s.parts)
        if (!part.empty() && p.item_code == part) return p.decision.empty();
      return true;
    }
    case pb::CaseEvent::kLicenseIssued:
      return s.status == S::kApproved && s.license_no.empty();
    case pb::CaseEvent::kMaterialsSupplied:
    case pb::CaseEvent::kWithdrawn:
    case pb::CaseEvent::kTerminated:
      return !is_final(s.status);
    case pb::CaseEvent::kDelivered:
      return one_of(s.status, {S::kApproved, S::kDenied});
    case pb::CaseEvent::kFeeCharged:  // as decide allows it: once per receipt, a sane amount
      return !one_of(s.status, {S::kRefused, S::kWithdrawn, S::kTerminated}) &&
             fee_counts(s, e.fee_charged());
    default:
      return true;
  }
}

// Events about ownership itself, records of reads and supervision's orders and answers
// (never in conflict: they are about the case, not acts on it).
bool is_ownership_event(const pb::CaseEvent& e) {
  switch (e.body_case()) {
    case pb::CaseEvent::kHandedOver:
    case pb::CaseEvent::kTransferRequested:
    case pb::CaseEvent::kReleased:
    case pb::CaseEvent::kReceived:
    case pb::CaseEvent::kTaken:
    case pb::CaseEvent::kReturned:
    case pb::CaseEvent::kConflictResolved:
    case pb::CaseEvent::kDocumentViewed:  // a record of a read, never an act on the case
    case pb::CaseEvent::kRectificationOrdered:
    case pb::CaseEvent::kRectificationAnswered:
    case pb::CaseEvent::kRatingAppealDecided:
      return true;
    default:
      return false;
  }
}

// Once a case has moved, two sites can act on it without hearing each other: the former
// owner offline before it heard, or a site that acted after it handed the case over. An
// act that cannot follow what the history already holds is a conflict: kept in the log,
// not applied, listed for operators. Returns what is wrong, or nothing.
std::optional<std::pair<std::string, std::string>> conflict_of(const CaseState& s,
                                                               const pb::CaseEvent& e,
                                                               const EventMeta& meta) {
  if (s.moves.empty() || is_ownership_event(e)) return std::nullopt;
  const std::string& site = meta.origin;
  if (s.conflicted.count(site))
    return std::make_pair("站点 " + site + " 的办理与他站冲突，其后续办理待中心裁定",
                          "site " + site + " is in conflict on this case; its later acts wait");
  // 收受分离: the receiving site delivers the decided case and runs the rating loop.
  const bool aftercare = site == s.origin && is_final(s.status) &&
                         (e.has_delivered() || e.has_rated() || e.has_callback_done() ||
                          e.has_rectified() || e.has_rating_appealed() || e.has_fee_charged());
  if (s.released.count(site) && !aftercare)
    return std::make_pair("站点 " + site + " 在案件移交后仍办理",
                          "site " + site + " acted after it handed the case over");
  if (e.has_decided() && !e.decided().part_item_code().empty())
    for (const CasePart& p : s.parts)
      if (p.item_code == e.decided().part_item_code() && !p.site.empty() && p.site != site)
        return std::make_pair("子事项 " + p.item_code + " 由站点 " + p.site + " 办理，站点 " +
                                  site + " 却作出了决定",
                              "part " + p.item_code + " belongs to site " + p.site + ", not " +
                                  site);
  if (fits(s, e)) return std::nullopt;
  if (e.has_decided() && is_final(s.status))
    return std::make_pair("两个站点先后对同一案件作出决定", "two sites decided the case");
  if (e.has_delivered() && s.status == CaseStatus::kDelivered)
    return std::make_pair("两个站点重复出件", "two sites delivered the case");
  return std::make_pair(std::string("站点 ") + site + " 的办理（" + event_kind(e) +
                            "）与案件当前状态「" + label_zh(s.status) + "」不衔接",
                        "site " + site + "'s " + event_kind(e) + " does not follow the case's " +
                            to_string(s.status) + " state");
  return std::nullopt;
}

}  // namespace

const char* to_string(NoteKind k) {
  switch (k) {
    case NoteKind::kPreReview: return "prereview";
    case NoteKind::kNotice: return "notice";
    case NoteKind::kRefusal: return "refusal";
    case NoteKind::kSuspension: return "suspension";
    case NoteKind::kResumption: return "resumption";
    case NoteKind::kWithdrawal: return "withdrawal";
    case NoteKind::kCallback: return "callback";
    case NoteKind::kRectification: return "rectification";
    case NoteKind::kAppeal: return "appeal";
    case NoteKind::kAppealDecision: return "appeal_decision";
  }
  return "?";
}

const char* label_zh(NoteKind k) {
  switch (k) {
    case NoteKind::kPreReview: return "预审意见";
    case NoteKind::kNotice: return "补正告知说明";
    case NoteKind::kRefusal: return "不予受理理由";
    case NoteKind::kSuspension: return "中止说明";
    case NoteKind::kResumption: return "恢复办理说明";
    case NoteKind::kWithdrawal: return "撤回理由";
    case NoteKind::kCallback: return "回访记录";
    case NoteKind::kRectification: return "整改情况";
    case NoteKind::kAppeal: return "差评申诉";
    case NoteKind::kAppealDecision: return "申诉复核意见";
  }
  return "?";
}

const char* to_string(Transfer t) {
  switch (t) {
    case Transfer::kRequested: return "requested";
    case Transfer::kDispatched: return "dispatched";
    case Transfer::kTaken: return "taken";
    case Transfer::kReturned: return "returned";
    case Transfer::kNone: break;
  }
  return "none";
}

namespace {

std::mutex hub_origin_mu;
std::string& hub_origin() {  // guarded by hub_origin_mu
  static std::string id = "HUB";
  return id;
}

bool from_hub(const EventMeta& meta) {
  std::lock_guard lock(hub_origin_mu);
  return meta.origin == hub_origin();
}

}  // namespace

bool is_hub_act(const pb::CaseEvent& e) {
  return e.has_handed_over() || e.has_conflict_resolved() || e.has_rectification_ordered() ||
         e.has_rating_appeal_decided();
}

void set_hub_origin(const std::string& hub_id) {
  std::lock_guard lock(hub_origin_mu);
  hub_origin() = hub_id;
}

void evolve(CaseState& s, const pb::CaseEvent& e, const EventMeta& meta) {
  if (!s.exists()) {
    s.case_id = meta.case_id;
    s.origin = meta.origin;
    s.owner = meta.origin;
    s.created_at = meta.ts;
  }
  s.updated_at = meta.ts;
  ++s.event_count;
  if (is_hub_act(e) && !from_hub(meta)) {
    s.conflicts.push_back({meta.origin, event_kind(e),
                           "站点 " + meta.origin + " 的事件冒用区级中心的决定（" + event_kind(e) + "）",
                           "site " + meta.origin + " signed an act only the hub makes (" +
                               event_kind(e) + ")",
                           meta.ts});
    s.conflicted.insert(meta.origin);
    s.conflict_open = true;
    return;
  }
  if (auto conflict = conflict_of(s, e, meta)) {
    s.conflicts.push_back({meta.origin, event_kind(e), conflict->first, conflict->second, meta.ts});
    s.conflicted.insert(meta.origin);
    s.conflict_open = true;
    return;
  }
  // A read, and supervision's order and answer, are no acts: the alert's staff member
  // stays the one who handled the case.
  if (!e.has_document_viewed() && !e.has_rectification_ordered() &&
      !e.has_rectification_answered() && !e.has_rating_appeal_decided())
    s.last_actor = meta.actor;
  switch (e.body_case()) {
    case pb::CaseEvent::kHandedOver: {
      const auto& h = e.handed_over();
      s.moves.push_back({h.from_site(), h.to_site(), h.reason(), h.mode(), h.operator_(),
                         h.why_target(), h.part_item_code(), meta.ts});
      if (!h.part_item_code().empty()) {  // 多地联办: one part moves, the case stays
        for (CasePart& p : s.parts)
          if (p.item_code == h.part_item_code()) {
            p.site = h.to_site();
            p.requested = false;
            p.received = false;
          }
        break;
      }
      s.owner = h.to_site();
      s.released.erase(h.to_site());
      s.received = false;
      s.transfer = h.mode() == "return" ? Transfer::kReturned : Transfer::kDispatched;
      if (h.mode() != "return") s.transfer_reason = h.reason();
      s.transfer_to.clear();
      s.transfer_since = meta.ts;
      break;
    }
    case pb::CaseEvent::kTransferRequested:
      if (!e.transfer_requested().part_item_code().empty()) {
        for (CasePart& p : s.parts)
          if (p.item_code == e.transfer_requested().part_item_code()) p.requested = true;
        break;
      }
      s.transfer = Transfer::kRequested;
      s.transfer_reason = e.transfer_requested().reason();
      s.transfer_to = e.transfer_requested().to_site();
      s.transfer_since = meta.ts;
      break;
    case pb::CaseEvent::kReleased:
      s.released.insert(meta.origin);
      break;
    case pb::CaseEvent::kReceived:
      if (!e.received().part_item_code().empty()) {
        for (CasePart& p : s.parts)
          if (p.item_code == e.received().part_item_code() && p.site == meta.origin)
            p.received = true;
      } else if (meta.origin == s.owner) {
        s.received = true;
      }
      break;
    case pb::CaseEvent::kTaken:
      if (meta.origin == s.owner) {
        s.transfer = Transfer::kTaken;
        s.transfer_since = meta.ts;
      }
      break;
    case pb::CaseEvent::kReturned:
      if (meta.origin == s.owner) {
        s.transfer = Transfer::kReturned;
        s.transfer_reason = e.returned().reason();
        s.transfer_since = meta.ts;
      }
      break;
    case pb::CaseEvent::kConflictResolved:
      s.conflict_open = false;
      s.conflicted.clear();
      break;
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
      add_note(s, NoteKind::kPreReview, e.prereview_outcome().note(), meta);
      s.status = CaseStatus::kPreReviewed;
      break;
    case pb::CaseEvent::kSubmitted:
      apply_application(s, e.submitted());
      break;
    case pb::CaseEvent::kMaterialsRequested:
      s.materials_requested = true;
      s.requested_missing.assign(e.materials_requested().missing().begin(),
                                 e.materials_requested().missing().end());
      add_note(s, NoteKind::kNotice, e.materials_requested().note(), meta);
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
      s.closed_date = date_of(meta.ts);
      s.decided_by = meta.actor;
      s.reason = e.refused().reason();
      add_note(s, NoteKind::kRefusal, e.refused().reason(), meta);
      break;
    case pb::CaseEvent::kReviewStarted:
      s.status = CaseStatus::kInReview;
      if (!s.review_started_date) s.review_started_date = date_of(meta.ts);
      break;
    case pb::CaseEvent::kSuspended:
      if (!s.review_started_date) s.review_started_date = date_of(meta.ts);
      s.pauses.push_back({e.suspended().reason(), Date{e.suspended().from_date()}, std::nullopt});
      add_note(s, NoteKind::kSuspension, e.suspended().note(), meta);
      s.status = CaseStatus::kSuspended;
      break;
    case pb::CaseEvent::kResumed:
      if (!s.pauses.empty()) s.pauses.back().to = Date{e.resumed().to_date()};
      add_note(s, NoteKind::kResumption, e.resumed().note(), meta);
      s.status = CaseStatus::kInReview;
      break;
    case pb::CaseEvent::kDecided:
      // A decision (or a suspension, below) is the back office at work: review has begun
      // even where no ReviewStarted came first (秒批, a suspension straight after acceptance).
      if (!s.review_started_date) s.review_started_date = date_of(meta.ts);
      apply_decision(s, e.decided());
      if (s.decided_date) s.decided_by = meta.actor;  // the decision that settled the case
      break;
    case pb::CaseEvent::kLicenseIssued: {
      static constexpr char kHex[] = "0123456789abcdef";
      s.license_issued_date = date_of(meta.ts);
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
      s.closed_date = date_of(meta.ts);
      s.reason = e.withdrawn().reason();
      add_note(s, NoteKind::kWithdrawal, e.withdrawn().reason(), meta);
      break;
    case pb::CaseEvent::kTerminated:
      s.status = CaseStatus::kTerminated;
      s.closed_date = date_of(meta.ts);
      s.reason = e.terminated().reason();
      s.broke_commitment = e.terminated().broke_commitment();
      break;
    case pb::CaseEvent::kDelivered:
      s.status = CaseStatus::kDelivered;
      s.delivered_date = date_of(meta.ts);
      s.delivery_method = e.delivered().method();
      s.tracking_no = e.delivered().tracking_no();
      break;
    case pb::CaseEvent::kRated: {
      const auto& r = e.rated();
      if (r.follow_up()) {  // 追评: the first rating and its loop stay as they were
        if (s.rating) {
          s.rating->follow_up_level = r.level();
          s.rating->follow_up_date = Date{r.rated_date()};
          s.rating->follow_up_comment = r.comment();
        }
        break;
      }
      RatingState rating;
      rating.level = r.scale() == 0 ? 6 - r.level() : r.level();  // see Rated.scale
      rating.comment = r.comment();
      rating.served_by = r.served_by();
      rating.window = r.window();
      rating.site = meta.origin;
      rating.channel = r.channel();
      for (const auto& i : r.indicators()) rating.indicators.emplace_back(i.name(), i.level());
      rating.rated = Date{r.rated_date()};
      if (r.callback_due_date()) rating.callback_due = Date{r.callback_due_date()};
      if (r.rectify_due_date()) rating.rectify_due = Date{r.rectify_due_date()};
      s.rating = rating;
      break;
    }
    case pb::CaseEvent::kCallbackDone:
      if (s.rating) s.rating->callback_done = Date{e.callback_done().done_date()};
      add_note(s, NoteKind::kCallback, e.callback_done().note(), meta);
      break;
    case pb::CaseEvent::kRectified:
      if (s.rating) s.rating->rectified = Date{e.rectified().done_date()};
      add_note(s, NoteKind::kRectification, e.rectified().note(), meta);
      break;
    case pb::CaseEvent::kFeeCharged: {
      const auto& f = e.fee_charged();
      if (!fee_counts(s, f)) break;
      s.fees_fen += f.amount_fen();
      s.fee_receipts.insert(f.receipt_no());
      s.fee_site = meta.origin;
      break;
    }
    case pb::CaseEvent::kRatingAppealed:
      if (s.rating) {
        s.rating->appealed = Date{e.rating_appealed().appealed_date()};
        s.rating->appeal_evidence = e.rating_appealed().evidence();
        s.rating->appealed_by = meta.actor;
      }
      add_note(s, NoteKind::kAppeal, e.rating_appealed().evidence(), meta);
      break;
    case pb::CaseEvent::kRatingAppealDecided: {
      const auto& d = e.rating_appeal_decided();
      if (!s.rating || !s.rating->appeal_pending()) break;
      s.rating->appeal_decided = Date{d.decided_date()};
      s.rating->appeal_upheld = d.upheld();
      s.rating->appeal_reason = d.reason();
      s.rating->appeal_supervisor = d.supervisor();
      // Rejected: the days the appeal waited are given back to rectification.
      if (!d.upheld() && d.rectify_due_date()) s.rating->rectify_due = Date{d.rectify_due_date()};
      add_note(s, NoteKind::kAppealDecision,
               std::string(d.upheld() ? "申诉成立：" : "申诉不成立：") + d.reason(), meta);
      break;
    }
    case pb::CaseEvent::kDocumentAttached: {
      const auto& d = e.document_attached();
      const auto* h = reinterpret_cast<const uint8_t*>(d.hash().data());
      s.documents.push_back({d.material_code(), to_hex(h, d.hash().size()), d.size(), d.mime(),
                             d.file_name(), meta.actor, meta.ts});
      break;
    }
    case pb::CaseEvent::kDocumentViewed: {
      const auto* h = reinterpret_cast<const uint8_t*>(e.document_viewed().hash().data());
      s.document_reads.push_back(
          {to_hex(h, e.document_viewed().hash().size()), meta.actor, meta.origin, meta.ts});
      break;
    }
    case pb::CaseEvent::kRectificationOrdered: {
      const auto& o = e.rectification_ordered();
      SupervisionOrder order;
      order.alert_id = o.alert_id();
      order.rule = o.rule();
      order.rule_zh = o.rule_zh();
      order.severity = o.severity();
      order.finding = o.finding();
      order.site = o.site();
      order.note = o.note();
      order.supervisor = o.supervisor();
      order.ordered = date_of(meta.ts);
      order.due = Date{o.due_date()};
      s.supervision_orders.push_back(std::move(order));
      break;
    }
    case pb::CaseEvent::kRectificationAnswered: {
      const auto& a = e.rectification_answered();
      // The newest open order on the alert (a supervisor may order again after an answer).
      for (auto it = s.supervision_orders.rbegin(); it != s.supervision_orders.rend(); ++it)
        if (it->alert_id == a.alert_id() && it->open() && it->site == meta.origin) {
          it->answered = Date{a.answered_date()};
          it->answer = a.answer();
          it->answered_by = meta.actor;
          break;
        }
      break;
    }
    case pb::CaseEvent::kAppointmentBooked:
    case pb::CaseEvent::kAppointmentCheckedIn:
    case pb::CaseEvent::kAppointmentCancelled:
    case pb::CaseEvent::BODY_NOT_SET:
      break;
  }
}

}  // namespace tongban
