#include "tongban/shared/case_json.h"

#include "tongban/shared/validation.h"

namespace tongban {

namespace {

nlohmann::json date_or_null(const std::optional<Date>& d) {
  return d ? nlohmann::json(format_date(*d)) : nlohmann::json(nullptr);
}

nlohmann::json applicant_json(const pb::Applicant& a) {
  nlohmann::json j = {{"name", a.name()}, {"id_number", a.id_number()}, {"phone", a.phone()}};
  if (a.enterprise()) {
    j["enterprise"] = true;
    j["uscc"] = a.uscc();
    j["org_name"] = a.org_name();
  }
  return j;
}

}  // namespace

nlohmann::json summary_to_json(const CaseSummary& c) {
  const auto status = case_status_from(c.status);
  return {{"case_id", c.case_id},
          {"site", c.origin},
          {"item_code", c.item_code},
          {"item_name", c.item_name},
          {"status", c.status},
          {"status_zh", status ? label_zh(*status) : ""},
          {"applicant_name", c.applicant_name},
          {"agent", c.agent},
          {"updated_at", format_time(c.updated_at)},
          {"deadline", date_or_null(c.deadline)},
          {"clock", c.clock},
          {"owner", c.owner},
          {"transfer", c.transfer},
          {"transfer_since",
           c.transfer_since ? nlohmann::json(format_time(c.transfer_since)) : nlohmann::json(nullptr)},
          {"conflict", c.conflict}};
}

nlohmann::json search_result_json(const CaseQuery& q, const std::vector<CaseSummary>& found) {
  nlohmann::json list = nlohmann::json::array();
  for (const CaseSummary& c : found) list.push_back(summary_to_json(c));
  return {{"cases", list}, {"count", list.size()}, {"limit", q.limit}, {"offset", q.offset}};
}

nlohmann::json clock_to_json(const ClockView& c) {
  nlohmann::json j = {{"color", to_string(c.color)},
                      {"deadline", date_or_null(c.deadline)},
                      {"yellow_from", date_or_null(c.yellow_from)},
                      {"remaining_working_days", c.remaining_working_days}};
  if (c.color == ClockColor::kDone) j["overdue_at_decision"] = c.overdue_at_decision;
  if (c.unpublished_year && c.deadline) {
    j["calendar_note"] =
        "期限所在年度（" + std::to_string(year_of(*c.deadline)) +
        "年）节假日安排尚未公布，仅按周末计算 / the holiday schedule of that year is "
        "not published yet: only weekends were counted";
  }
  return j;
}

nlohmann::json case_to_json(const CaseState& s, Date today, const WorkCalendar& cal,
                            int yellow_days) {
  nlohmann::json materials = nlohmann::json::array();
  for (const CaseMaterial& m : s.materials)
    materials.push_back({{"code", m.code},
                         {"name", m.name},
                         {"required", m.required},
                         {"key", m.key},
                         {"status", m.status}});
  nlohmann::json parts = nlohmann::json::array();
  for (const CasePart& p : s.parts)
    parts.push_back(
        {{"item_code", p.item_code},
         {"item_name", p.item_name},
         {"department", p.department},
         {"decision", p.decision.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.decision)},
         {"reason", p.reason},
         {"site", p.site.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.site)},
         {"requested", p.requested},
         {"received", p.received}});
  nlohmann::json pauses = nlohmann::json::array();
  for (const Pause& p : s.pauses)
    pauses.push_back(
        {{"reason", p.reason}, {"from", format_date(p.from)}, {"to", date_or_null(p.to)}});

  nlohmann::json j = {
      {"case_id", s.case_id},
      {"origin_site", s.origin},
      {"status", to_string(s.status)},
      {"status_zh", label_zh(s.status)},
      {"item_code", s.item_code},
      {"item_name", s.item_name},
      {"department", s.department},
      {"catalog_version", s.catalog_version},
      {"applicant", applicant_json(s.applicant)},
      {"agent", s.agent.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.agent)},
      {"channel", s.channel},
      {"form", s.form},
      {"materials", materials},
      {"parts", parts},
      {"promised_days", s.promised_days},
      {"legal_days", s.legal_days},
      {"created_at", format_time(s.created_at)},
      {"updated_at", format_time(s.updated_at)},
      {"accepted_date", date_or_null(s.accepted_date)},
      {"deemed_accepted", s.deemed_accepted || is_deemed_accepted(s, today, cal)},
      {"tolerated_outstanding", s.tolerated},
      {"supply_deadline", date_or_null(s.supply_deadline)},
      {"pauses", pauses},
      {"decided_date", date_or_null(s.decided_date)},
      {"instant_approval", s.instant},
      {"fees_fen", s.fees_fen},
      {"reason", s.reason},
      {"clock", clock_to_json(clock_of(s, today, cal, yellow_days))},
      {"events", s.event_count},
  };
  if (!s.agent.empty())
    j["authorization"] = {{"document_no", s.authorization.document_no()},
                          {"signed_date", s.authorization.signed_date()},
                          {"priority_group", s.authorization.priority_group()}};
  if (s.prereview_passed)
    j["prereview"] = {{"passed", *s.prereview_passed}, {"missing", s.prereview_missing}};
  if (s.status == CaseStatus::kSubmitted) {
    j["answer_by"] = format_date(deemed_acceptance_date(s, cal));
  }
  if (s.materials_requested) j["requested_materials"] = s.requested_missing;
  if (!s.license_no.empty()) j["license_no"] = s.license_no;
  if (!s.delivery_method.empty())
    j["delivery"] = {{"method", s.delivery_method}, {"tracking_no", s.tracking_no}};
  if (s.rating) {
    const RatingState& r = *s.rating;
    nlohmann::json indicators = nlohmann::json::object();
    for (const auto& [name, level] : r.indicators) indicators[name] = level;
    j["rating"] = {{"level", r.level},
                   {"comment", r.comment},
                   {"bad", r.bad()},
                   {"served_by", r.served_by},
                   {"window", r.window ? nlohmann::json(r.window) : nlohmann::json(nullptr)},
                   {"channel", r.channel},
                   {"indicators", indicators},
                   {"rated_date", format_date(r.rated)},
                   {"callback_due", date_or_null(r.callback_due)},
                   {"rectify_due", date_or_null(r.rectify_due)},
                   {"callback_done", date_or_null(r.callback_done)},
                   {"rectified", date_or_null(r.rectified)},
                   {"appeal", r.appealed ? nlohmann::json{{"evidence", r.appeal_evidence},
                                                          {"by", r.appealed_by},
                                                          {"date", format_date(*r.appealed)},
                                                          {"decided", date_or_null(r.appeal_decided)},
                                                          {"upheld", r.appeal_decided
                                                                         ? nlohmann::json(r.appeal_upheld)
                                                                         : nlohmann::json(nullptr)},
                                                          {"reason", r.appeal_reason},
                                                          {"supervisor", r.appeal_supervisor}}
                                         : nlohmann::json(nullptr)},
                   {"excluded", r.excluded()},
                   {"follow_up_level", r.follow_up_level ? nlohmann::json(r.follow_up_level)
                                                         : nlohmann::json(nullptr)},
                   {"follow_up_comment", r.follow_up_comment},
                   {"follow_up_date", date_or_null(r.follow_up_date)},
                   {"follow_up_due", r.follow_up_due()},
                   {"loop_closed", r.loop_closed()}};
  }
  j["owner_site"] = s.owner;
  nlohmann::json moves = nlohmann::json::array();
  for (const OwnershipMove& m : s.moves)
    moves.push_back({{"from", m.from}, {"to", m.to}, {"reason", m.reason}, {"mode", m.mode},
                     {"by", m.by}, {"why_target", m.why_target},
                     {"part", m.part.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.part)},
                     {"at", format_time(m.at)}});
  j["moves"] = moves;
  j["transfer"] = {{"state", to_string(s.transfer)},
                   {"reason", s.transfer_reason},
                   {"requested_to", s.transfer_to},
                   {"since", s.transfer_since ? nlohmann::json(format_time(s.transfer_since))
                                              : nlohmann::json(nullptr)},
                   {"received", s.received}};
  nlohmann::json conflicts = nlohmann::json::array();
  for (const CaseConflict& c : s.conflicts)
    conflicts.push_back({{"site", c.site}, {"kind", c.kind}, {"what_zh", c.what_zh},
                         {"what_en", c.what_en}, {"at", format_time(c.at)}});
  j["conflicts"] = conflicts;
  j["conflict_open"] = s.conflict_open;
  nlohmann::json notes = nlohmann::json::array();
  for (const CaseNote& n : s.notes)
    notes.push_back({{"kind", to_string(n.kind)}, {"kind_zh", label_zh(n.kind)}, {"text", n.text},
                     {"by", n.by.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.by)},
                     {"at", format_time(n.at)}});
  j["notes"] = notes;
  nlohmann::json documents = nlohmann::json::array();
  for (const CaseDocument& d : s.documents)
    documents.push_back({{"material_code", d.material_code}, {"hash", d.hash}, {"size", d.size},
                         {"mime", d.mime}, {"file_name", d.file_name}, {"by", d.by},
                         {"at", format_time(d.at)}});
  j["documents"] = documents;
  nlohmann::json reads = nlohmann::json::array();
  for (const DocumentRead& r : s.document_reads)
    reads.push_back({{"hash", r.hash}, {"by", r.by}, {"site", r.site}, {"at", format_time(r.at)}});
  j["document_reads"] = reads;
  nlohmann::json orders = nlohmann::json::array();
  for (const SupervisionOrder& o : s.supervision_orders)
    orders.push_back(supervision_order_json(o));
  j["supervision_orders"] = orders;
  return j;
}

nlohmann::json supervision_order_json(const SupervisionOrder& o) {
  return {{"alert_id", o.alert_id},     {"rule", o.rule},
          {"rule_zh", o.rule_zh},       {"severity", o.severity},
          {"finding", o.finding},       {"site", o.site},
          {"note", o.note},             {"supervisor", o.supervisor},
          {"ordered_date", format_date(o.ordered)},
          {"due", format_date(o.due)},  {"answered", !o.open()},
          {"answer", o.answer},         {"answered_by", o.answered_by},
          {"answered_date", date_or_null(o.answered)}};
}

nlohmann::json documents_to_json(const CaseState& s, const std::vector<StoredDocument>& held) {
  nlohmann::json out = nlohmann::json::array();
  for (const CaseDocument& d : s.documents) {
    nlohmann::json j = {{"material_code", d.material_code},
                        {"hash", d.hash},
                        {"size", d.size},
                        {"mime", d.mime},
                        {"file_name", d.file_name},
                        {"by", d.by},
                        {"at", format_time(d.at)},
                        {"state", "fetching"},
                        {"chunks", doc_chunk_count(d.size)},
                        {"chunks_held", 0}};
    for (const StoredDocument& h : held)
      if (to_hex(h.hash) == d.hash) {
        j["state"] = to_string(h.state);
        j["chunks_held"] = h.have;
      }
    out.push_back(std::move(j));
  }
  return {{"case_id", s.case_id}, {"documents", out}};
}

}  // namespace tongban
