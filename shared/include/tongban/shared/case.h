// The case workflow as pure functions (no I/O):
//   decide(state, command, context) -> the events it produces, or a rejection;
//   evolve(state, event) -> the next state.
// The node and the hub build their projections with the same evolve, so both converge
// by construction. Rules cite the policy measure or the law's article they come from.
//
// Thread safety: all functions are pure; values may be shared read-only across threads.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "events.pb.h"
#include "tongban/shared/calendar.h"
#include "tongban/shared/catalog.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/status.h"

namespace tongban {

enum class CaseStatus {
  kNone,               // no such case yet
  kPreReview,          // 预审中
  kPreReviewed,        // 预审完成, outcome told
  kSubmitted,          // 已提交, awaiting acceptance
  kAwaitingMaterials,  // 一次性告知 sent, awaiting 补正
  kAccepted,           // 已受理
  kInReview,           // 审查中
  kSuspended,          // 中止 (clock stopped)
  kApproved,           // 准予
  kDenied,             // 不予批准
  kDelivered,          // 已出件
  kRefused,            // 不予受理
  kWithdrawn,          // 撤回
  kTerminated,         // 终止
};
const char* to_string(CaseStatus s);
const char* label_zh(CaseStatus s);
std::optional<CaseStatus> case_status_from(const std::string& s);
// Cases the office still has to work on (the clock and the queue care about these).
bool is_active(CaseStatus s);
// Decided, delivered or otherwise closed: nothing but delivery and rating follows.
bool is_final(CaseStatus s);

enum class MaterialStatus { kProvided, kCommitted, kMissing, kTolerated };

struct CaseMaterial {
  std::string code;
  std::string name;
  bool required = true;
  bool key = false;
  std::string status;  // provided | committed | missing | tolerated
};

struct CasePart {
  std::string item_code;
  std::string item_name;
  std::string department;
  std::string decision;  // "" pending, approved, denied
  std::string reason;
  // 多地联办: the site that decides this part when not the case's owner ("" = the owner),
  // whether one was asked for, and whether that site holds the history.
  std::string site;
  bool requested = false;
  bool received = false;
  std::string decided_department;  // the decider's (Decided.department)
};

struct Pause {
  std::string reason;
  Date from;
  std::optional<Date> to;
};

struct RatingState {
  int level = 0;
  std::string comment;
  Date rated;
  std::optional<Date> callback_due;
  std::optional<Date> rectify_due;
  std::optional<Date> callback_done;
  std::optional<Date> rectified;
  std::string served_by, channel;
  int window = 0;  // the window (窗口号) the resident was served at; 0: not given
  std::string site;  // the site the rating was given at (the Rated event's origin)
  std::vector<std::pair<std::string, int>> indicators;
  // 申诉复核: the site's appeal of a 差评 and the supervisor's decision.
  std::optional<Date> appealed;
  std::string appeal_evidence, appealed_by;
  std::optional<Date> appeal_decided;
  bool appeal_upheld = false;
  std::string appeal_reason, appeal_supervisor;
  // 追评: the resident's rating once the 差评 was rectified.
  int follow_up_level = 0;
  std::optional<Date> follow_up_date;
  std::string follow_up_comment;
  // The national scale: 5 非常满意 … 1 非常不满意; 不满意 and 非常不满意 are 差评.
  bool bad() const { return level <= 2; }
  bool appeal_pending() const { return appealed && !appeal_decided; }
  // An upheld appeal takes the rating out of every ranking (it stays on record).
  bool excluded() const { return appeal_decided && appeal_upheld; }
  // Rectification owed: a 差评 not rectified, whose appeal is neither pending nor upheld.
  bool rectification_owed() const {
    return bad() && !rectified && !appeal_pending() && !excluded();
  }
  // The loop is closed: no 差评, an upheld appeal, or rectified and rated again (追评).
  bool loop_closed() const { return !bad() || excluded() || follow_up_level > 0; }
  // A follow-up rating (追评) may be asked for.
  bool follow_up_due() const { return bad() && rectified && !follow_up_level; }
};

// 电子监察: a supervisor's rectification order on the case and the site's answer.
struct SupervisionOrder {
  int64_t alert_id = 0;
  std::string rule, rule_zh, severity, finding, site, note, supervisor;
  Date ordered, due;
  std::optional<Date> answered;
  std::string answer, answered_by;
  bool open() const { return !answered; }
};

// One move of a case's ownership (a HandedOver of the hub's log).
struct OwnershipMove {
  std::string from, to, reason, mode, by, why_target;
  std::string part;  // 多地联办: the bundle part that moved ("" = the whole case)
  Timestamp at = 0;
};

// Two sites acted on the case in conflict (both decided, or one acted after handing it
// over): the later act is kept in the history, not applied, and listed for operators.
struct CaseConflict {
  std::string site, kind;  // who acted, and the event kind ("case.decided")
  std::string what_zh, what_en;
  Timestamp at = 0;
};

// What a note written on the case is (the view lists them, in event order, so nothing staff
// wrote is kept without being shown).
enum class NoteKind {
  kPreReview,      // 预审意见
  kNotice,         // 一次性告知 note
  kRefusal,        // 不予受理 reason
  kSuspension,     // 中止 note
  kResumption,     // 恢复办理 note
  kWithdrawal,     // 撤回 reason
  kCallback,       // 差评回访 record
  kRectification,  // 差评整改 record
  kAppeal,         // 差评申诉 evidence
  kAppealDecision, // 申诉复核 decision
};
const char* to_string(NoteKind k);
const char* label_zh(NoteKind k);

struct CaseNote {
  NoteKind kind = NoteKind::kPreReview;
  std::string text;
  std::string by;  // the staff account that wrote it
  Timestamp at = 0;
};

// 电子材料: a file attached to one of the case's material entries (the file itself is kept
// by the store, by hash: shared/documents.h).
struct CaseDocument {
  std::string material_code;
  std::string hash;  // BLAKE2b-256, hex
  uint64_t size = 0;
  std::string mime, file_name;
  std::string by;  // who attached it
  Timestamp at = 0;
};

// A read of a document, kept in the case's history.
struct DocumentRead {
  std::string hash;  // hex
  std::string by;
  std::string site;
  Timestamp at = 0;
};

// Where a case stands in the hub's dispatch (跨区通办), as its events say.
enum class Transfer {
  kNone,        // with its owner, nothing asked
  kRequested,   // the owner asked the hub to move it; not placed yet
  kDispatched,  // handed to a new owner that has not taken it on yet
  kTaken,       // the new owner took it on
  kReturned,    // the target returned it (back with the former owner)
};
const char* to_string(Transfer t);

struct CaseState {
  std::string case_id;
  std::string origin;  // the receiving site: where the applicant came, which created it
  CaseStatus status = CaseStatus::kNone;
  std::string item_code, item_name, department;
  int catalog_version = 0;
  pb::Applicant applicant;
  std::string agent;  // username of the 代办 agent, if any
  pb::Authorization authorization;
  std::map<std::string, std::string> form;
  std::vector<CaseMaterial> materials;
  std::vector<CasePart> parts;  // 一件事: one per member item
  std::string channel, appointment_id;
  int promised_days = 0, legal_days = 0;
  Timestamp created_at = 0;
  Timestamp updated_at = 0;
  // Pre-review.
  std::optional<bool> prereview_passed;
  std::vector<std::string> prereview_missing;
  // Acceptance clock: the date the 5-working-day answer period (art. 32) started.
  Date submitted_date;
  bool materials_requested = false;
  std::vector<std::string> requested_missing;
  std::optional<Date> accepted_date;
  bool deemed_accepted = false;
  // 容缺受理.
  std::vector<std::string> tolerated;  // still outstanding
  std::optional<Date> supply_deadline;
  bool commitment_signed = false;
  // Handling.
  std::vector<Pause> pauses;
  std::optional<Date> decided_date;
  // The steps' own dates (电子监察 times each step), from the events' times.
  std::optional<Date> review_started_date, license_issued_date, delivered_date;
  std::string last_actor;  // who acted last on the case (a site's staff, "system", the hub)
  std::string decided_by;  // who decided the whole case, or refused it
  std::string decided_department;  // the decider's department (Decided.department), plain items
  int64_t fees_fen = 0;            // fees collected on the case (FeeCharged), 分
  std::set<std::string> fee_receipts;  // each receipt once (how many fees were charged)
  std::string fee_site;                // the site that recorded the latest fee
  std::optional<int64_t> fee_fen;      // the most it may be charged (Submitted.fee_fen)
  std::optional<Date> closed_date;  // refused, withdrawn or terminated (decisions: decided_date)
  bool instant = false;
  std::string reason;  // refusal, denial, withdrawal or termination reason
  bool broke_commitment = false;
  std::string license_no, license_payload, license_signature;  // signature hex
  std::string delivery_method, tracking_no;
  std::optional<RatingState> rating;
  int event_count = 0;
  // 跨区通办: the owning site (the one whose node may act) and how it got there.
  std::string owner;
  std::vector<OwnershipMove> moves;
  Transfer transfer = Transfer::kNone;
  std::string transfer_reason, transfer_to;  // the request's or the return's reason; target asked
  Timestamp transfer_since = 0;
  bool received = false;                 // the new owner holds the full history
  std::set<std::string> released;        // former owners that heard they lost it
  std::set<std::string> conflicted;      // sites whose acts are in conflict (until resolved)
  std::vector<CaseConflict> conflicts;
  bool conflict_open = false;
  std::vector<CaseNote> notes;  // in event order; empty notes are not kept
  std::vector<CaseDocument> documents;  // in the order attached
  std::vector<DocumentRead> document_reads;
  std::vector<SupervisionOrder> supervision_orders;  // in the order given

  bool exists() const { return status != CaseStatus::kNone; }
  bool paused() const { return !pauses.empty() && !pauses.back().to; }
};

// Metadata of the event being applied.
struct EventMeta {
  std::string case_id;
  std::string origin;
  Timestamp ts = 0;
  std::string actor{};  // the account that acted, as stored beside the event ("" unknown)
};

// Commands that move a case's ownership (跨区通办).
struct RequestTransfer {
  std::string reason;
  std::string to_site;  // empty: the hub's dispatch rules choose
};
struct TakeCase {};
struct ReturnCase {
  std::string reason;
};

// A case id as sites assign them: "<site>-<YYYYMMDD>-<6 digits>" (site: an upper-case
// letter, then upper-case letters or digits). Other ids name no case (e.g. the hub's
// stream "catalog", an appointment "APT-…").
bool valid_case_id(std::string_view id);
// A site id: an upper-case letter, then up to 7 upper-case letters or digits.
bool valid_site_id(std::string_view id);

// 收费: a fee recorded on a case is a whole number of fen from 1 to kMaxFeeFen, once per
// receipt. decide refuses anything else; evolve counts nothing else (a bypassed node's
// signed event beyond it must not overflow or hide a total).
inline constexpr int64_t kMaxFeeFen = 1'000'000'000;
inline bool valid_fee_amount(int64_t fen) { return fen >= 1 && fen <= kMaxFeeFen; }
inline bool fee_counts(const CaseState& s, const pb::FeeCharged& f) {
  return valid_fee_amount(f.amount_fen()) && !s.fee_receipts.count(f.receipt_no());
}

// The kind stored beside each event ("case.accepted"…), from the body's oneof.
std::string event_kind(const pb::CaseEvent& e);

// The hub's acts on a case (a hand-over, a conflict resolved, a rectification order, an
// appeal decided) are events of the hub's own log. An event of another origin carrying one
// is a forgery by a site: evolve keeps it as a conflict and applies nothing. The hub's id is
// district.toml's (load_district sets it for the process; "HUB" until then).
bool is_hub_act(const pb::CaseEvent& e);
void set_hub_origin(const std::string& hub_id);

// Applies one event. Events were validated by decide; evolve never fails.
void evolve(CaseState& state, const pb::CaseEvent& event, const EventMeta& meta);

// ---- Commands -------------------------------------------------------------------------

// The applicant of an application or a booking, whatever the item: a name on one line, a
// resident ID number valid on `today`, a mobile number; with `enterprise` a valid USCC and
// the organisation's name, without it neither. Ok, or InvalidArgument naming what is wrong
// (invalid_uscc, invalid_id_number, unexpected_field…).
Status validate_applicant(const pb::Applicant& a, Date today);

struct ApplicationInput {
  std::string item_code;
  pb::Applicant applicant;
  std::map<std::string, std::string> form;
  std::vector<std::string> provided;   // material codes presented
  std::vector<std::string> committed;  // 告知承诺 in place of these proofs
  std::string agent;                   // set by the service when the actor is an agent
  std::optional<pb::Authorization> authorization;
  std::string channel = "window";
  std::string appointment_id;
};

struct AcceptInput {
  std::vector<std::string> tolerated;  // 容缺: non-key materials missing
  bool commitment_signed = false;
  int supply_days = 0;  // working days to supply them
};

struct StartPreReview {
  ApplicationInput app;
};
struct RecordPreReviewOutcome {
  bool passed = false;
  std::vector<std::string> missing;
  std::string note;
};
struct Submit {
  ApplicationInput app;
  std::optional<AcceptInput> accept_now;
};
struct RequestMaterials {
  std::vector<std::string> missing;
  std::string note;
};
struct SupplyMaterials {
  std::vector<std::string> provided;
  std::vector<std::string> committed;
};
struct Accept {
  AcceptInput input;
};
struct Refuse {
  std::string reason;
};
struct StartReview {};
struct Suspend {
  std::string reason;
  std::string note;
};
struct Resume {
  std::string note;
};
struct DecideCase {
  bool approve = false;
  std::string reason;
  std::string part;
};
struct Withdraw {
  std::string reason;
};
struct Deliver {
  std::string method;
  std::string tracking_no;
};
// The resident's rating (national scale: 5 非常满意 … 1 非常不满意), given with a ticket.
struct Rate {
  Rate(int level_ = 0, std::string comment_ = "") : level(level_), comment(std::move(comment_)) {}
  int level = 0;
  std::string comment;
  std::string channel = "pad";  // pad | qr
  std::vector<std::pair<std::string, int>> indicators;  // efficiency, quality, attitude: 1..5
  std::string served_by;        // set from the ticket, never by the caller
  int window = 0;               // likewise: the window the ticket was issued at (0: not given)
};
struct RecordCallback {
  std::string note;
};
struct RecordRectification {
  std::string note;
};
// 申诉复核: the site appeals a 差评 with its evidence.
struct AppealRating {
  std::string evidence;
};
// A fee collected on the case, with the payment receipt's number.
struct RecordFee {
  int64_t amount_fen = 0;
  std::string receipt_no;
};
// 电子材料: a file for one of the case's material entries, already checked and hashed by
// the caller (shared/documents.h sniff_document and the content's BLAKE2b).
struct AttachDocument {
  std::string material_code;
  Hash32 hash{};
  uint64_t size = 0;
  std::string mime, file_name;
};
// A member of staff reads an attached document (recorded in the history).
struct ViewDocument {
  Hash32 hash{};
};
// 电子监察: the site the order names answers a supervisor's rectification order.
struct AnswerSupervision {
  int64_t alert_id = 0;
  std::string answer;
};
// The supervision sweep (system actor): deemed acceptance, 容缺 deadline termination.
struct Sweep {};

using Command =
    std::variant<StartPreReview, RecordPreReviewOutcome, Submit, RequestMaterials, SupplyMaterials,
                 Accept, Refuse, StartReview, Suspend, Resume, DecideCase, Withdraw, Deliver, Rate,
                 RecordCallback, RecordRectification, Sweep, RequestTransfer, TakeCase,
                 ReturnCase, AttachDocument, ViewDocument, AnswerSupervision, AppealRating,
                 RecordFee>;

struct DecideContext {
  Timestamp now = 0;
  const Catalog* catalog = nullptr;
  const WorkCalendar* calendar = nullptr;
  std::string site_id;  // empty: no ownership checks (pure tests)
  SiteKind site_kind = SiteKind::kCenter;
  std::string parent_site;  // an agent point's parent center (forwarding), if configured
  const std::set<std::string>* site_items = nullptr;  // items this site handles; null = all
  bool applicant_broke_commitment = false;            // 容缺 eligibility
  int max_supply_days = 20;
  std::string actor_department;  // the acting account's department ("" none): on a decision
};

// Returns the events the command produces (possibly none, for a Sweep with nothing
// due), or the rejection: InvalidArgument for bad input, Conflict for a transition the
// state does not allow, Rejected for a policy rule, NotFound for an unknown item.
// A LicenseIssued event comes back with its payload and an empty signature: the caller
// holds the site key and signs the payload before appending.
Result<std::vector<pb::CaseEvent>> decide(const CaseState& state, const Command& command,
                                          const DecideContext& ctx);

// ---- Views ----------------------------------------------------------------------------

// The date after which an unanswered application counts as accepted (art. 32).
Date deemed_acceptance_date(const CaseState& s, const WorkCalendar& cal);
// True when the application is unanswered past that date as of `today`.
bool is_deemed_accepted(const CaseState& s, Date today, const WorkCalendar& cal);

enum class ClockColor { kNone, kNormal, kYellow, kRed, kPaused, kDone };
const char* to_string(ClockColor c);
std::optional<ClockColor> clock_color_from(const std::string& s);

struct ClockView {
  ClockColor color = ClockColor::kNone;
  std::optional<Date> deadline;     // promised limit, extended by paused working days
  std::optional<Date> yellow_from;  // first day shown yellow
  int remaining_working_days = 0;   // negative when overdue
  bool overdue_at_decision = false;
  std::optional<Date> start;        // the day the clock started (accepted, or deemed so)
  int paused_working_days = 0;      // working days the suspensions gave back (art. 45)
  // The deadline lies in a year whose holiday schedule is not published yet: only
  // ordinary weekends were counted.
  bool unpublished_year = false;
};

// `yellow_days`: the clock turns yellow this many working days before the deadline.
ClockView clock_of(const CaseState& s, Date today, const WorkCalendar& cal, int yellow_days);

}  // namespace tongban
