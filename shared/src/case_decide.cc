// decide: command + state -> events or a rejection. Pure: no I/O, time comes from ctx.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "tongban/shared/case.h"
#include "tongban/shared/documents.h"
#include "tongban/shared/validation.h"

namespace tongban {

namespace {

using Events = std::vector<pb::CaseEvent>;
constexpr size_t kMaxText = 500;
constexpr size_t kMaxFormFields = 64;

Date today_of(const DecideContext& ctx) { return date_of(ctx.now); }

Status not_now(const CaseState& s, const std::string& zh_action, const std::string& en_action) {
  return Status::Conflict(
      "invalid_transition",
      std::string("案件当前状态为「") + label_zh(s.status) + "」，不能" + zh_action,
      std::string("case is ") + to_string(s.status) + "; cannot " + en_action);
}

constexpr size_t kMinEvidenceChars = 10;

bool in(CaseStatus s, std::initializer_list<CaseStatus> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// Notes, reasons and opinions: free text of up to 500 bytes, line breaks allowed.
Status check_text(const std::string& text, const char* zh_field, const char* en_field,
                  bool required) {
  return required ? validate_required_text(text, zh_field, en_field, kMaxText, true)
                  : validate_text(text, zh_field, en_field, kMaxText, true);
}

const CaseMaterial* case_material(const CaseState& s, const std::string& code) {
  for (const CaseMaterial& m : s.materials)
    if (m.code == code) return &m;
  return nullptr;
}

Status unknown_material(const std::string& code) {
  return Status::InvalidArgument("unknown_material", "该事项没有此材料：" + code,
                                 "the item has no material " + code);
}

}  // namespace

Status validate_applicant(const pb::Applicant& a, Date today) {
  TB_RETURN_IF_ERROR(validate_required_text(a.name(), "申请人姓名", "applicant name", 128));
  TB_RETURN_IF_ERROR(validate_resident_id(a.id_number(), today));
  TB_RETURN_IF_ERROR(validate_mobile(a.phone()));
  if (a.enterprise()) {  // an enterprise applicant, whatever the item: its code must hold
    TB_RETURN_IF_ERROR(validate_uscc(a.uscc()));
    TB_RETURN_IF_ERROR(validate_required_text(a.org_name(), "企业名称", "enterprise name", 200));
  } else if (!a.uscc().empty() || !a.org_name().empty()) {
    return Status::InvalidArgument("unexpected_field",
                                   "个人申请不应填写统一社会信用代码或企业名称",
                                   "uscc and org_name are for enterprise applicants only");
  }
  return Status::Ok();
}

namespace {

// 代办 (measure 13): an agent needs the resident's authorisation on record.
Status validate_authorization(const ApplicationInput& in, Date today) {
  if (in.agent.empty()) return Status::Ok();
  const auto no_auth = [] {
    return Status::Rejected("agent_not_authorized", "代办人未登记申请人的授权委托，不能提交",
                            "the agent has no recorded authorization from the resident");
  };
  if (!in.authorization) return no_auth();
  const std::string& doc = in.authorization->document_no();
  if (doc.find_first_not_of(" \t") == std::string::npos) return no_auth();
  TB_RETURN_IF_ERROR(validate_text(doc, "授权委托书编号", "authorization document_no", 64));
  // A power of attorney signed today or within the last five years.
  const auto signed_on = parse_date(in.authorization->signed_date());
  if (!signed_on || *signed_on > today || *signed_on < today + (-5 * 366))
    return Status::InvalidArgument("invalid_authorization",
                                   "授权委托书签署日期无效（应为近五年内的日期）",
                                   "authorization signed_date must be a date within the last five "
                                   "years");
  static const std::set<std::string> kGroups = {"elderly", "disabled", "pregnant", "other"};
  if (!kGroups.count(in.authorization->priority_group()))
    return Status::InvalidArgument("invalid_authorization",
                                   "代办对象类别应为 elderly/disabled/pregnant/other",
                                   "priority_group must be elderly, disabled, pregnant or other");
  return Status::Ok();
}

// Form fields that restate what the resident ID number says (GB 11643): the age on `on`,
// the sex (also spelt gender), the birth date and the code of the region of registration.
// 秒批 rules read these from the validated number, never from what was typed: a typed
// "age: 85" once approved 高龄津贴 for a resident born in 1990 (issue 8).
std::map<std::string, std::string> id_form_facts(const pb::Applicant& a, Date on) {
  std::map<std::string, std::string> out;
  const std::optional<ResidentIdFacts> facts = resident_id_facts(a.id_number(), on);
  if (!facts) return out;
  out["age"] = std::to_string(age_on(facts->born, on));
  out["sex"] = out["gender"] = facts->male ? "male" : "female";
  out["birth_date"] = format_date(facts->born);
  out["region"] = facts->region_code;
  return out;
}

// Whether a typed form value says what the ID number says for `field` (an age as a whole
// number, "86" or 86; a sex as male/female, m/f or 男/女).
bool agrees_with_id(const std::string& field, const std::string& typed, const std::string& fact) {
  if (field == "age") {
    double v = 0;
    const auto [end, ec] = std::from_chars(typed.data(), typed.data() + typed.size(), v);
    return ec == std::errc() && end == typed.data() + typed.size() && v == std::stoi(fact);
  }
  if (field == "sex" || field == "gender") {
    std::string t = typed;
    for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (fact == "male") return t == "male" || t == "m" || t == "男";
    return t == "female" || t == "f" || t == "女";
  }
  return typed == fact;
}

// A typed form that contradicts the applicant's ID number is refused, not silently
// overruled: the office must not keep a record that says two things.
Status check_form_against_id(const std::map<std::string, std::string>& form,
                             const pb::Applicant& a, Date today) {
  for (const auto& [field, fact] : id_form_facts(a, today)) {
    const auto typed = form.find(field);
    if (typed == form.end() || agrees_with_id(field, typed->second, fact)) continue;
    const bool sex = field == "sex" || field == "gender";
    const std::string fact_zh = sex ? (fact == "male" ? "男" : "女") : fact;
    return Status::InvalidArgument(
        "form_contradicts_id",
        "表单中「" + field + "」填写为「" + typed->second +
            "」，与申请人身份证号码不符（按身份证号码应为「" + fact_zh + "」）",
        "form field " + field + " says '" + typed->second +
            "' but the applicant's resident ID number says '" + fact + "'");
  }
  return Status::Ok();
}

Result<pb::Submitted> build_application(const ApplicationInput& in, const DecideContext& ctx) {
  const Item* item = ctx.catalog->find(in.item_code);
  if (!item)
    return Status::NotFound("unknown_item", "事项不存在：" + in.item_code,
                            "unknown item code: " + in.item_code);
  if (ctx.site_items && !ctx.site_items->count(in.item_code))
    return Status::Rejected("item_not_handled_here", "本站点不受理该事项：" + item->name,
                            "this site does not handle item " + in.item_code);
  static const std::set<std::string> kChannels = {"window", "online", "mobile", "agent"};
  if (!kChannels.count(in.channel))
    return Status::InvalidArgument("invalid_channel", "受理渠道应为 window/online/mobile/agent",
                                   "channel must be window, online, mobile or agent");
  const Date today = today_of(ctx);
  TB_RETURN_IF_ERROR(validate_applicant(in.applicant, today));
  if (item->applicant == ApplicantKind::kEnterprise && !in.applicant.enterprise())
    return Status::InvalidArgument("enterprise_required", "该事项须由企业申请",
                                   "this item is applied for by an enterprise");
  TB_RETURN_IF_ERROR(validate_authorization(in, today));
  if (in.form.size() > kMaxFormFields)
    return Status::InvalidArgument("form_too_large", "表单字段过多", "too many form fields");
  for (const auto& [k, v] : in.form) {
    TB_RETURN_IF_ERROR(check_text(k, "表单字段名", "form field name", true));
    TB_RETURN_IF_ERROR(check_text(v, "表单字段值", "form field value", false));
  }
  TB_RETURN_IF_ERROR(check_form_against_id(in.form, in.applicant, today));

  const std::vector<Material> materials = ctx.catalog->materials_of(*item);
  auto known = [&](const std::string& code) -> const Material* {
    for (const Material& m : materials)
      if (m.code == code) return &m;
    return nullptr;
  };
  for (const std::string& code : in.provided)
    if (!known(code)) return unknown_material(code);
  for (const std::string& code : in.committed) {
    const Material* m = known(code);
    if (!m) return unknown_material(code);
    if (!m->commitment_allowed)
      return Status::Rejected("commitment_not_allowed", "该材料不适用告知承诺制：" + m->name,
                              "material " + code + " cannot be replaced by a commitment");
  }

  pb::Submitted out;
  out.set_item_code(item->code);
  out.set_item_name(item->name);
  out.set_department(item->department);
  out.set_catalog_version(ctx.catalog->version());
  *out.mutable_applicant() = in.applicant;
  for (const Material& m : materials) {
    pb::Material* pm = out.add_materials();
    pm->set_code(m.code);
    pm->set_name(m.name);
    pm->set_required(m.required);
    pm->set_key(m.key);
    const bool provided = std::count(in.provided.begin(), in.provided.end(), m.code) > 0;
    const bool committed = std::count(in.committed.begin(), in.committed.end(), m.code) > 0;
    pm->set_status(provided ? "provided" : committed ? "committed" : "missing");
  }
  for (const auto& [k, v] : in.form) {
    pb::FormField* f = out.add_form();
    f->set_name(k);
    f->set_value(v);
  }
  out.set_agent(in.agent);
  if (in.authorization) *out.mutable_authorization() = *in.authorization;
  out.set_promised_days(item->promised_days);
  out.set_legal_days(item->legal_days);
  out.set_fee_fen(ctx.catalog->fee_limit(*item));
  if (item->is_bundle()) {
    for (const Item* part : ctx.catalog->parts_of(*item)) {
      pb::Part* p = out.add_parts();
      p->set_item_code(part->code);
      p->set_item_name(part->name);
      p->set_department(part->department);
    }
  }
  out.set_channel(in.channel);
  out.set_appointment_id(in.appointment_id);
  out.set_submitted_date(today.days);
  return out;
}

// The license payload: the exact JSON text the site signs (keys sorted by nlohmann).
pb::CaseEvent license_for(const CaseState& s, const DecideContext& ctx) {
  nlohmann::json items = nlohmann::json::array();
  if (s.parts.empty()) {
    items.push_back({{"code", s.item_code}, {"name", s.item_name}});
  } else {
    for (const CasePart& p : s.parts)
      if (p.decision == "approved") items.push_back({{"code", p.item_code}, {"name", p.item_name}});
  }
  const bool ent = s.applicant.enterprise();
  nlohmann::json payload = {
      {"type", "tongban.e-license.v1"},
      {"license_no", "DZZZ-" + s.case_id},
      {"case_id", s.case_id},
      {"item_code", s.item_code},
      {"items", items},
      {"holder", ent ? s.applicant.org_name() : s.applicant.name()},
      {"holder_id", ent ? s.applicant.uscc() : s.applicant.id_number()},
      {"issued_date", format_date(today_of(ctx))},
      {"issuer_site", ctx.site_id},
      {"instant", s.instant},
  };
  pb::CaseEvent e;
  e.mutable_license_issued()->set_license_no("DZZZ-" + s.case_id);
  e.mutable_license_issued()->set_payload(payload.dump());
  return e;
}

// Appends `e` to `out` and folds it into `s`, so later events see its effect.
void emit(Events& out, CaseState& s, pb::CaseEvent e, const DecideContext& ctx) {
  evolve(s, e, EventMeta{s.case_id, ctx.site_id.empty() ? s.origin : ctx.site_id, ctx.now});
  out.push_back(std::move(e));
}

// A decision that completes the case with an approval brings its e-license.
void emit_decision(Events& out, CaseState& s, pb::Decided d, const DecideContext& ctx) {
  pb::CaseEvent e;
  *e.mutable_decided() = std::move(d);
  emit(out, s, std::move(e), ctx);
  if (s.status == CaseStatus::kApproved) emit(out, s, license_for(s, ctx), ctx);
}

// 一次性告知 (行政许可法 art. 32(4)): the one notice names every required material still
// missing, whatever the clerk listed. A notice that left one out could never be followed by
// another (once only), and acceptance would wait for that material forever. The clerk may
// add a missing optional material; naming one already provided or committed is an error.
Result<std::vector<std::string>> materials_to_request(const CaseState& s,
                                                      const std::vector<std::string>& named) {
  for (const std::string& code : named) {
    const CaseMaterial* m = case_material(s, code);
    if (!m) return unknown_material(code);
    if (m->status != "missing")
      return Status::InvalidArgument("material_not_missing",
                                     "该材料已提交或已承诺，无需补正：" + m->name,
                                     "material " + code + " is not missing (" + m->status + ")");
  }
  std::vector<std::string> notice;
  for (const CaseMaterial& m : s.materials) {
    const bool was_named = std::count(named.begin(), named.end(), m.code) > 0;
    if (m.status == "missing" && (m.required || was_named)) notice.push_back(m.code);
  }
  if (notice.empty())
    return Status::Rejected("nothing_missing", "申请材料已齐全，无需补正，请直接受理",
                            "no material is missing: accept the application instead");
  return notice;
}

Result<pb::Accepted> check_accept(const CaseState& s, const AcceptInput& in,
                                  const DecideContext& ctx) {
  const Item* item = ctx.catalog->find(s.item_code);
  std::vector<std::string> missing_names, tolerated_bad;
  for (const CaseMaterial& m : s.materials) {
    if (!m.required || m.status != "missing") continue;
    const bool tolerated = std::count(in.tolerated.begin(), in.tolerated.end(), m.code) > 0;
    if (tolerated && m.key)
      return Status::Rejected("key_material_missing", "要件材料不能容缺：" + m.name,
                              "key material " + m.code + " cannot be tolerated as missing");
    if (!tolerated) missing_names.push_back(m.name);
  }
  if (!missing_names.empty()) {
    std::string zh, en;
    for (const auto& n : missing_names) zh += (zh.empty() ? "" : "、") + n;
    return Status::Rejected("materials_missing",
                            "缺少必要材料：" + zh + "。请一次性告知申请人补正，或按容缺受理",
                            std::to_string(missing_names.size()) +
                                " required material(s) missing: request them once, or accept "
                                "with tolerance (容缺)");
  }
  pb::Accepted a;
  a.set_accepted_date(today_of(ctx).days);
  if (in.tolerated.empty()) return a;
  for (const std::string& code : in.tolerated) {
    const CaseMaterial* m = case_material(s, code);
    if (!m) return unknown_material(code);
    if (m->status != "missing")
      return Status::InvalidArgument("material_not_missing", "该材料并未缺少：" + m->name,
                                     "material " + code + " is not missing");
  }
  if (!item || !item->tolerance_allowed)
    return Status::Rejected("tolerance_not_allowed", "该事项不适用容缺受理",
                            "this item does not allow acceptance with missing materials");
  if (ctx.applicant_broke_commitment)
    return Status::Rejected("tolerance_ineligible", "申请人曾未履行容缺承诺，不适用容缺受理",
                            "the applicant broke an earlier 容缺 commitment");
  if (!in.commitment_signed)
    return Status::Rejected(
        "commitment_required", "容缺受理须申请人签署承诺书",
        "acceptance with missing materials needs the applicant's signed commitment");
  if (in.supply_days < 1 || in.supply_days > ctx.max_supply_days)
    return Status::InvalidArgument(
        "invalid_supply_days", "补齐期限应为1至" + std::to_string(ctx.max_supply_days) + "个工作日",
        "supply_days must be 1.." + std::to_string(ctx.max_supply_days));
  for (const std::string& c : in.tolerated) a.add_tolerated(c);
  a.set_supply_deadline_date(ctx.calendar->add_working_days(today_of(ctx), in.supply_days).days);
  a.set_commitment_signed(true);
  return a;
}

// Acceptance, then 秒批 when the item's rule holds and nothing was tolerated (measure 9).
Status emit_acceptance(Events& out, CaseState& s, pb::Accepted a, const DecideContext& ctx) {
  pb::CaseEvent e;
  *e.mutable_accepted() = std::move(a);
  emit(out, s, std::move(e), ctx);
  const Item* item = ctx.catalog->find(s.item_code);
  if (!item || !item->has_instant_rule() || !s.tolerated.empty()) return Status::Ok();
  // Facts of the ID number as of the acceptance date (the submission date when deemed).
  std::map<std::string, std::string> facts = s.form;
  const Date accepted = s.accepted_date.value_or(today_of(ctx));
  for (const auto& [field, fact] : id_form_facts(s.applicant, accepted)) facts[field] = fact;
  if (!instant_rule_holds(item->instant_rule, facts)) return Status::Ok();
  pb::Decided d;
  d.set_approved(true);
  d.set_instant(true);
  d.set_reason("符合秒批规则，系统即时准予 / instant approval rule met");
  d.set_decided_date(today_of(ctx).days);
  emit_decision(out, s, std::move(d), ctx);
  return Status::Ok();
}

// Acceptance at an agent point of an item it may not decide forwards the case at once:
// to the parent center site-config names, or where the hub's dispatch rules choose.
// A bundle's parts this site may not decide (not among its items, or its kind may not
// decide them) go each to a site that may (多地联办); the case stays here.
void emit_forwarding(Events& out, CaseState& s, const DecideContext& ctx) {
  if (ctx.site_id.empty() || is_final(s.status)) return;
  const Item* item = ctx.catalog->find(s.item_code);
  if (!item) return;
  if (item->decidable_at(ctx.site_kind)) {
    for (const CasePart& p : s.parts) {
      const Item* member = ctx.catalog->find(p.item_code);
      const bool here = member && member->decidable_at(ctx.site_kind) &&
                        (!ctx.site_items || ctx.site_items->count(p.item_code));
      if (here || !p.decision.empty() || p.requested || !p.site.empty()) continue;
      pb::CaseEvent e;
      auto* r = e.mutable_transfer_requested();
      r->set_reason("一件事中本站点无权办理的子事项，转有权站点联办 / a bundle part this site may "
                    "not decide, sent to a site that may");
      r->set_part_item_code(p.item_code);
      r->set_automatic(true);
      emit(out, s, std::move(e), ctx);
    }
    return;
  }
  pb::CaseEvent e;
  auto* r = e.mutable_transfer_requested();
  r->set_reason("代办点受理后转至有权站点审批 / accepted at an agent point, forwarded for a decision");
  r->set_to_site(ctx.parent_site);
  r->set_automatic(true);
  emit(out, s, std::move(e), ctx);
}

// Who may act on an existing case (跨区通办): its owner; the receiving site only to deliver
// and to run the rating loop once it is decided (收受分离: the result goes back to the window
// the applicant chose). A case dispatched to this site waits to be taken on or returned.
Status check_owner(const CaseState& s, const Command& command, const DecideContext& ctx) {
  if (ctx.site_id.empty() || !s.exists()) return Status::Ok();
  // A read is recorded wherever the case is held (the receiving site scanned the file); a
  // rectification order is answered by the site it names (the decider checks which).
  if (std::holds_alternative<ViewDocument>(command) ||
      std::holds_alternative<AnswerSupervision>(command))
    return Status::Ok();
  const bool here = s.owner == ctx.site_id;
  const auto* decision = std::get_if<DecideCase>(&command);
  const CasePart* part = nullptr;
  for (const CasePart& p : s.parts)
    if (decision && p.item_code == decision->part) part = &p;
  // 多地联办: a part handed to a site is decided there, and only there.
  if (part && !part->site.empty()) {
    if (part->site != ctx.site_id)
      return Status::Conflict("part_elsewhere",
                              "该子事项由站点 " + part->site + " 办理",
                              "that part is decided at site " + part->site);
    if (s.conflict_open)
      return Status::Conflict("conflict_open",
                              "两个站点对该案件的办理存在冲突，待区级中心裁定后再办理",
                              "two sites acted on the case in conflict: the hub must resolve it first");
    return Status::Ok();
  }
  if (!here) {
    const bool aftercare = std::holds_alternative<Deliver>(command) ||
                           std::holds_alternative<Rate>(command) ||
                           std::holds_alternative<RecordCallback>(command) ||
                           std::holds_alternative<RecordRectification>(command) ||
                           std::holds_alternative<AppealRating>(command) ||
                           std::holds_alternative<RecordFee>(command);
    if (!aftercare || s.origin != ctx.site_id || !is_final(s.status))
      return Status::Conflict("not_owner",
                            "该案件现由站点 " + s.owner + " 办理，本站点不能再办理",
                            "the case is now handled by site " + s.owner);
  }
  if (s.conflict_open)
    return Status::Conflict("conflict_open", "两个站点对该案件的办理存在冲突，待区级中心裁定后再办理",
                            "two sites acted on the case in conflict: the hub must resolve it first");
  if (!here) return Status::Ok();  // the receiving site's aftercare
  if (s.transfer == Transfer::kDispatched && !std::holds_alternative<TakeCase>(command) &&
      !std::holds_alternative<ReturnCase>(command))
    return Status::Conflict("take_first", "该案件由中心派发至本站点，请先接收或退回",
                            "the case was dispatched here: take it on or return it first");
  return Status::Ok();
}

struct Decider {
  Decider(const CaseState& state, const DecideContext& context) : ctx(context), s(state) {}

  const DecideContext& ctx;
  CaseState s;  // working copy, evolved as events are emitted
  Events out;

  Result<Events> done() { return std::move(out); }

  Result<Events> operator()(const StartPreReview& c) {
    if (s.exists()) return not_now(s, "开始预审", "start a pre-review");
    auto app = build_application(c.app, ctx);
    if (!app.ok()) return app.status();
    pb::CaseEvent e;
    auto* p = e.mutable_prereview_started();
    p->set_item_code(app->item_code());
    p->set_item_name(app->item_name());
    p->set_catalog_version(app->catalog_version());
    *p->mutable_applicant() = app->applicant();
    *p->mutable_materials() = app->materials();
    *p->mutable_form() = app->form();
    p->set_agent(app->agent());
    if (app->has_authorization()) *p->mutable_authorization() = app->authorization();
    p->set_appointment_id(app->appointment_id());
    p->set_channel(app->channel());
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const RecordPreReviewOutcome& c) {
    // 预审 outcome is told once: a second outcome is not allowed.
    if (s.status != CaseStatus::kPreReview)
      return not_now(s, "登记预审结果", "record a pre-review outcome");
    TB_RETURN_IF_ERROR(check_text(c.note, "预审意见", "note", false));
    if (!c.passed && c.missing.empty())
      return Status::InvalidArgument("missing_field", "预审未通过时须一次性列明所缺材料",
                                     "a failed pre-review must list the missing materials");
    pb::CaseEvent e;
    auto* o = e.mutable_prereview_outcome();
    o->set_passed(c.passed);
    for (const std::string& code : c.missing) {
      if (!case_material(s, code)) return unknown_material(code);
      o->add_missing(code);
    }
    o->set_note(c.note);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Submit& c) {
    if (s.exists() && s.status != CaseStatus::kPreReviewed) return not_now(s, "提交申请", "submit");
    if (s.exists() && c.app.item_code != s.item_code)
      return Status::InvalidArgument("item_mismatch", "提交的事项与预审事项不一致",
                                     "the item differs from the pre-reviewed one");
    auto app = build_application(c.app, ctx);
    if (!app.ok()) return app.status();
    pb::CaseEvent e;
    *e.mutable_submitted() = std::move(*app);
    emit(out, s, std::move(e), ctx);
    if (!c.accept_now) return done();
    auto accepted = check_accept(s, *c.accept_now, ctx);
    if (!accepted.ok()) return accepted.status();
    TB_RETURN_IF_ERROR(emit_acceptance(out, s, std::move(*accepted), ctx));
    emit_forwarding(out, s, ctx);
    return done();
  }

  Result<Events> operator()(const RequestMaterials& c) {
    if (s.status != CaseStatus::kSubmitted)
      return not_now(s, "一次性告知补正", "request materials");
    if (is_deemed_accepted(s, today_of(ctx), *ctx.calendar))
      return Status::Conflict(
          "deemed_accepted", "已超过5个工作日未告知，依法视为受理",
          "no answer within 5 working days: the application counts as accepted (art. 32)");
    if (s.materials_requested)
      return Status::Rejected("already_notified_once", "补正材料须一次性告知，不得再次要求",
                              "missing materials must be requested once only");
    TB_RETURN_IF_ERROR(check_text(c.note, "告知说明", "note", false));
    auto notice = materials_to_request(s, c.missing);
    if (!notice.ok()) return notice.status();
    pb::CaseEvent e;
    for (const std::string& code : *notice) e.mutable_materials_requested()->add_missing(code);
    e.mutable_materials_requested()->set_note(c.note);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const SupplyMaterials& c) {
    const bool awaiting = s.status == CaseStatus::kAwaitingMaterials;
    const bool tolerated_open =
        !s.tolerated.empty() &&
        in(s.status, {CaseStatus::kAccepted, CaseStatus::kInReview, CaseStatus::kSuspended});
    if (!awaiting && !tolerated_open) return not_now(s, "补交材料", "supply materials");
    if (c.provided.empty() && c.committed.empty())
      return Status::InvalidArgument("missing_field", "请列明补交的材料",
                                     "list the supplied materials");
    const Item* item = ctx.catalog->find(s.item_code);
    pb::CaseEvent e;
    auto* m = e.mutable_materials_supplied();
    for (const std::string& code : c.provided) {
      if (!case_material(s, code)) return unknown_material(code);
      m->add_provided(code);
    }
    for (const std::string& code : c.committed) {
      if (!case_material(s, code)) return unknown_material(code);
      const std::vector<Material> defs =
          item ? ctx.catalog->materials_of(*item) : std::vector<Material>{};
      auto def =
          std::find_if(defs.begin(), defs.end(), [&](const Material& d) { return d.code == code; });
      if (def != defs.end() && !def->commitment_allowed)
        return Status::Rejected("commitment_not_allowed", "该材料不适用告知承诺制：" + def->name,
                                "material " + code + " cannot be replaced by a commitment");
      m->add_committed(code);
    }
    m->set_supplied_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Accept& c) {
    if (s.status != CaseStatus::kSubmitted) return not_now(s, "受理", "accept");
    if (is_deemed_accepted(s, today_of(ctx), *ctx.calendar)) {
      // 行政许可法 art. 32: accepted from the day the application was received.
      pb::Accepted a;
      a.set_accepted_date(s.submitted_date.days);
      a.set_deemed(true);
      TB_RETURN_IF_ERROR(emit_acceptance(out, s, std::move(a), ctx));
      emit_forwarding(out, s, ctx);
      return done();
    }
    auto accepted = check_accept(s, c.input, ctx);
    if (!accepted.ok()) return accepted.status();
    TB_RETURN_IF_ERROR(emit_acceptance(out, s, std::move(*accepted), ctx));
    emit_forwarding(out, s, ctx);
    return done();
  }

  Result<Events> operator()(const Refuse& c) {
    if (!in(s.status, {CaseStatus::kSubmitted, CaseStatus::kAwaitingMaterials}))
      return not_now(s, "不予受理", "refuse");
    if (s.status == CaseStatus::kSubmitted && is_deemed_accepted(s, today_of(ctx), *ctx.calendar))
      return Status::Conflict("deemed_accepted",
                              "已超过5个工作日未答复，依法视为受理，不能不予受理",
                              "the application already counts as accepted (art. 32)");
    TB_RETURN_IF_ERROR(check_text(c.reason, "不予受理理由", "reason", true));
    pb::CaseEvent e;
    e.mutable_refused()->set_reason(c.reason);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const StartReview&) {
    if (s.status != CaseStatus::kAccepted) return not_now(s, "开始审查", "start review");
    pb::CaseEvent e;
    e.mutable_review_started();
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Suspend& c) {
    if (!in(s.status, {CaseStatus::kAccepted, CaseStatus::kInReview}))
      return not_now(s, "中止办理", "suspend");
    // 行政许可法 art. 45: hearings, testing and expert review do not count toward the limit.
    static const std::set<std::string> kReasons = {"correction", "hearing", "testing",
                                                   "expert_review"};
    if (!kReasons.count(c.reason))
      return Status::InvalidArgument(
          "invalid_reason",
          "中止原因应为 correction(补正)/hearing(听证)/testing(检验检测)/expert_review(专家评审)",
          "reason must be correction, hearing, testing or expert_review");
    TB_RETURN_IF_ERROR(check_text(c.note, "说明", "note", false));
    pb::CaseEvent e;
    e.mutable_suspended()->set_reason(c.reason);
    e.mutable_suspended()->set_note(c.note);
    e.mutable_suspended()->set_from_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Resume& c) {
    if (s.status != CaseStatus::kSuspended) return not_now(s, "恢复办理", "resume");
    TB_RETURN_IF_ERROR(check_text(c.note, "说明", "note", false));
    pb::CaseEvent e;
    e.mutable_resumed()->set_note(c.note);
    e.mutable_resumed()->set_to_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const DecideCase& c) {
    if (!in(s.status, {CaseStatus::kAccepted, CaseStatus::kInReview}))
      return not_now(s, "作出决定", "decide");
    if (!s.tolerated.empty())
      return Status::Rejected("tolerated_outstanding", "容缺材料尚未补齐，不能作出决定",
                              "tolerated materials are still outstanding");
    if (!c.approve) TB_RETURN_IF_ERROR(check_text(c.reason, "不予批准理由", "reason", true));
    TB_RETURN_IF_ERROR(check_text(c.reason, "理由", "reason", false));
    std::string decided_item = s.item_code;
    if (s.parts.empty()) {
      if (!c.part.empty())
        return Status::InvalidArgument("not_a_bundle", "该案件不是一件事联办，无需指定子事项",
                                       "the case is not a bundle; omit part");
    } else {
      auto part = std::find_if(s.parts.begin(), s.parts.end(),
                               [&](const CasePart& p) { return p.item_code == c.part; });
      if (part == s.parts.end())
        return Status::InvalidArgument("unknown_part", "请指定一件事中的子事项",
                                       "part must name a member item");
      if (!part->decision.empty())
        return Status::Conflict("part_decided", "该子事项已作出决定",
                                "that part is already decided");
      decided_item = c.part;
    }
    const Item* item = ctx.catalog->find(decided_item);
    if (item && !item->decidable_at(ctx.site_kind))
      return Status::Rejected("not_decidable_here",
                              "本站点无权对该事项作出决定，请跨区流转至有权站点",
                              "this kind of site may not decide the item; hand it over");
    pb::Decided d;
    d.set_approved(c.approve);
    d.set_reason(c.reason);
    d.set_part_item_code(s.parts.empty() ? "" : c.part);
    d.set_decided_date(today_of(ctx).days);
    d.set_department(ctx.actor_department);
    emit_decision(out, s, std::move(d), ctx);
    return done();
  }

  Result<Events> operator()(const Withdraw& c) {
    if (!in(s.status, {CaseStatus::kPreReview, CaseStatus::kPreReviewed, CaseStatus::kSubmitted,
                       CaseStatus::kAwaitingMaterials, CaseStatus::kAccepted, CaseStatus::kInReview,
                       CaseStatus::kSuspended}))
      return not_now(s, "撤回申请", "withdraw");
    TB_RETURN_IF_ERROR(check_text(c.reason, "撤回理由", "reason", false));
    pb::CaseEvent e;
    e.mutable_withdrawn()->set_reason(c.reason);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Deliver& c) {
    if (!in(s.status, {CaseStatus::kApproved, CaseStatus::kDenied}))
      return not_now(s, "出件", "deliver");
    static const std::set<std::string> kMethods = {"window", "post", "electronic"};
    if (!kMethods.count(c.method))
      return Status::InvalidArgument("invalid_method",
                                     "出件方式应为 window(窗口)/post(邮寄)/electronic(电子)",
                                     "method must be window, post or electronic");
    if (c.method == "post")
      TB_RETURN_IF_ERROR(check_text(c.tracking_no, "邮寄单号", "tracking_no", true));
    pb::CaseEvent e;
    e.mutable_delivered()->set_method(c.method);
    e.mutable_delivered()->set_tracking_no(c.tracking_no);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Rate& c) {
    if (!in(s.status, {CaseStatus::kApproved, CaseStatus::kDenied, CaseStatus::kDelivered,
                       CaseStatus::kRefused}))
      return not_now(s, "评价", "rate");
    const bool follow_up = s.rating && s.rating->follow_up_due();  // 追评
    if (s.rating && !follow_up)
      return Status::Conflict("already_rated", "该案件已评价", "the case is already rated");
    if (c.level < 1 || c.level > 5)
      return Status::InvalidArgument("invalid_level", "评价等级应为5（非常满意）至1（非常不满意）",
                                     "level must be 5 (very satisfied) to 1 (very dissatisfied)");
    if (c.channel != "pad" && c.channel != "qr")
      return Status::InvalidArgument("invalid_channel", "评价渠道应为 pad 或 qr",
                                     "channel must be pad or qr");
    for (const auto& [name, level] : c.indicators)
      if ((name != "efficiency" && name != "quality" && name != "attitude") || level < 1 ||
          level > 5)
        return Status::InvalidArgument("invalid_indicator",
                                       "评价指标应为服务效率/服务水平/服务态度，等级1至5",
                                       "indicators: efficiency, quality, attitude, each 1..5");
    TB_RETURN_IF_ERROR(check_text(c.comment, "评价内容", "comment", false));
    const Date today = today_of(ctx);
    pb::CaseEvent e;
    auto* r = e.mutable_rated();
    r->set_level(c.level);
    r->set_comment(c.comment);
    r->set_rated_date(today.days);
    r->set_scale(2);
    r->set_served_by(c.served_by);
    r->set_window(c.window);
    r->set_channel(c.channel);
    r->set_follow_up(follow_up);
    for (const auto& [name, level] : c.indicators) {
      auto* i = r->add_indicators();
      i->set_name(name);
      i->set_level(level);
    }
    if (c.level <= 2 && !follow_up) {
      // 差评: call back within 1 working day, rectify within 15 (measure 14).
      r->set_callback_due_date(ctx.calendar->add_working_days(today, 1).days);
      r->set_rectify_due_date(ctx.calendar->add_working_days(today, 15).days);
    }
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const RecordCallback& c) {
    if (!s.rating || !s.rating->bad() || s.rating->callback_done)
      return Status::Conflict("no_open_callback", "该案件没有待回访的差评",
                              "no bad rating awaits a callback");
    TB_RETURN_IF_ERROR(check_text(c.note, "回访记录", "note", true));
    pb::CaseEvent e;
    e.mutable_callback_done()->set_note(c.note);
    e.mutable_callback_done()->set_done_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const AttachDocument& c) {
    if (!s.exists() || is_final(s.status) || s.status == CaseStatus::kRefused)
      return Status::Conflict("case_closed", "案件已办结，不能再上传材料",
                              "the case is closed: no more documents can be attached");
    const bool listed = std::any_of(s.materials.begin(), s.materials.end(),
                                    [&](const CaseMaterial& m) { return m.code == c.material_code; });
    if (!listed)
      return Status::InvalidArgument("unknown_material",
                                     "该案件没有材料项 " + c.material_code,
                                     "the case has no material entry " + c.material_code);
    if (c.size == 0 || c.size > kMaxDocumentBytes)
      return Status::InvalidArgument("document_too_large", "材料文件须在 1 字节至 20 MiB 之间",
                                     "a document must be 1 byte to 20 MiB");
    if (c.mime != "application/pdf" && c.mime != "image/jpeg" && c.mime != "image/png")
      return Status::InvalidArgument("document_type_unsupported",
                                     "仅接受 PDF、JPEG、PNG 文件", "only PDF, JPEG and PNG are accepted");
    TB_RETURN_IF_ERROR(validate_text(c.file_name, "文件名", "file name", 255, false));
    const std::string hex = to_hex(c.hash);
    for (const CaseDocument& d : s.documents)
      if (d.hash == hex)
        return Status::Conflict("document_exists", "该文件已上传到本案件",
                                "this file is already attached to the case");
    pb::CaseEvent e;
    auto* d = e.mutable_document_attached();
    d->set_material_code(c.material_code);
    d->set_hash(c.hash.data(), c.hash.size());
    d->set_size(c.size);
    d->set_mime(c.mime);
    d->set_file_name(c.file_name);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const ViewDocument& c) {
    const std::string hex = to_hex(c.hash);
    const bool attached = std::any_of(s.documents.begin(), s.documents.end(),
                                      [&](const CaseDocument& d) { return d.hash == hex; });
    if (!attached)
      return Status::NotFound("document_not_found", "该案件没有此材料文件",
                              "the case has no such document");
    pb::CaseEvent e;
    e.mutable_document_viewed()->set_hash(c.hash.data(), c.hash.size());
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const RecordRectification& c) {
    if (s.rating && s.rating->appeal_pending())
      return Status::Conflict("appeal_pending", "该差评正在申诉复核，待区级监察员决定",
                              "the bad rating is under appeal: the supervisor decides first");
    if (!s.rating || !s.rating->callback_done || !s.rating->rectification_owed())
      return Status::Conflict("no_open_rectification", "该案件没有待整改的差评（须先回访）",
                              "no bad rating awaits rectification (call back first)");
    TB_RETURN_IF_ERROR(check_text(c.note, "整改情况", "note", true));
    pb::CaseEvent e;
    e.mutable_rectified()->set_note(c.note);
    e.mutable_rectified()->set_done_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  // 申诉复核: after the callback and before rectification, once per rating, with evidence.
  Result<Events> operator()(const AppealRating& c) {
    if (!s.rating || !s.rating->bad() || !s.rating->callback_done || s.rating->rectified ||
        s.rating->appealed)
      return Status::Conflict("not_appealable",
                              "该案件没有可申诉的差评（须在回访后、整改前，每个差评仅可申诉一次）",
                              "no bad rating may be appealed (after the callback, before "
                              "rectification, once)");
    TB_RETURN_IF_ERROR(check_text(c.evidence, "申诉证据", "evidence", true));
    if (utf8_length(c.evidence) < kMinEvidenceChars)
      return Status::InvalidArgument("evidence_required",
                                     "请写明申诉的事实与依据（不少于 10 个字，可附电子材料）",
                                     "an appeal needs evidence: at least 10 characters of facts");
    pb::CaseEvent e;
    e.mutable_rating_appealed()->set_evidence(c.evidence);
    e.mutable_rating_appealed()->set_appealed_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const RecordFee& c) {
    if (!s.exists() || s.status == CaseStatus::kRefused || s.status == CaseStatus::kWithdrawn ||
        s.status == CaseStatus::kTerminated)
      return not_now(s, "登记收费", "record a fee");
    if (!valid_fee_amount(c.amount_fen))
      return Status::InvalidArgument("invalid_amount", "收费金额应为 1 至 1000000000 的整数（单位：分）",
                                     "amount_fen must be a whole number of fen from 1 to 1000000000");
    TB_RETURN_IF_ERROR(validate_required_text(c.receipt_no, "缴款书号", "receipt_no", 64));
    if (s.fee_receipts.count(c.receipt_no))
      return Status::Conflict("receipt_recorded", "该缴款书已登记，不能重复登记",
                              "this receipt is already recorded on the case");
    pb::CaseEvent e;
    e.mutable_fee_charged()->set_amount_fen(c.amount_fen);
    e.mutable_fee_charged()->set_receipt_no(c.receipt_no);
    e.mutable_fee_charged()->set_charged_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const RequestTransfer& c) {
    if (!in(s.status, {CaseStatus::kSubmitted, CaseStatus::kAwaitingMaterials,
                       CaseStatus::kAccepted, CaseStatus::kInReview, CaseStatus::kSuspended}))
      return not_now(s, "申请跨区流转", "request a transfer");
    if (s.transfer == Transfer::kRequested)
      return Status::Conflict("transfer_pending", "已申请流转，等待中心派发",
                              "a transfer is already requested");
    TB_RETURN_IF_ERROR(check_text(c.reason, "流转原因", "reason", true));
    if (c.to_site == ctx.site_id)
      return Status::InvalidArgument("same_site", "目标站点不能是本站点",
                                     "the target must be another site");
    if (!c.to_site.empty() && !valid_site_id(c.to_site))
      return Status::InvalidArgument("invalid_site", "站点编号格式错误", "malformed site id");
    pb::CaseEvent e;
    e.mutable_transfer_requested()->set_reason(c.reason);
    e.mutable_transfer_requested()->set_to_site(c.to_site);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const TakeCase&) {
    if (s.transfer != Transfer::kDispatched)
      return Status::Conflict("not_dispatched", "该案件不是待接收的派发案件",
                              "the case is not waiting to be taken on");
    pb::CaseEvent e;
    e.mutable_taken();
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const ReturnCase& c) {
    if (s.transfer != Transfer::kDispatched)
      return Status::Conflict("not_dispatched", "该案件不是待接收的派发案件",
                              "the case is not waiting to be taken on");
    TB_RETURN_IF_ERROR(check_text(c.reason, "退回原因", "reason", true));
    pb::CaseEvent e;
    e.mutable_returned()->set_reason(c.reason);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const AnswerSupervision& c) {
    TB_RETURN_IF_ERROR(check_text(c.answer, "整改答复", "answer", true));
    const SupervisionOrder* order = nullptr;
    for (auto it = s.supervision_orders.rbegin(); it != s.supervision_orders.rend() && !order; ++it)
      if (it->alert_id == c.alert_id && it->open() && it->site == ctx.site_id) order = &*it;
    if (!order)
      return Status::Conflict("no_open_order", "本站点没有该预警待答复的整改通知",
                              "no rectification order on that alert awaits this site's answer");
    pb::CaseEvent e;
    auto* a = e.mutable_rectification_answered();
    a->set_alert_id(c.alert_id);
    a->set_answer(c.answer);
    a->set_answered_date(today_of(ctx).days);
    emit(out, s, std::move(e), ctx);
    return done();
  }

  Result<Events> operator()(const Sweep&) {
    const Date today = today_of(ctx);
    if (s.status == CaseStatus::kSubmitted && is_deemed_accepted(s, today, *ctx.calendar))
      return (*this)(Accept{});
    const bool tolerated_open =
        !s.tolerated.empty() && s.supply_deadline &&
        in(s.status, {CaseStatus::kAccepted, CaseStatus::kInReview, CaseStatus::kSuspended});
    if (tolerated_open && today > *s.supply_deadline) {
      pb::CaseEvent e;
      e.mutable_terminated()->set_reason(
          "容缺材料逾期未补齐 / tolerated materials not supplied by the deadline");
      e.mutable_terminated()->set_broke_commitment(true);
      emit(out, s, std::move(e), ctx);
    }
    return done();
  }
};

}  // namespace

Result<std::vector<pb::CaseEvent>> decide(const CaseState& state, const Command& command,
                                          const DecideContext& ctx) {
  if (std::holds_alternative<Sweep>(command) && !ctx.site_id.empty() && state.exists() &&
      (state.owner != ctx.site_id || state.transfer == Transfer::kDispatched ||
       state.conflict_open))
    return Events{};  // the owner's sweep supervises the case
  TB_RETURN_IF_ERROR(check_owner(state, command, ctx));
  Decider decider(state, ctx);
  return std::visit(decider, command);
}

}  // namespace tongban
