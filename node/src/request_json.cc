#include "request_json.h"

#include "tongban/shared/http_server.h"
#include "tongban/shared/validation.h"

namespace tongban::node {

namespace {

using nlohmann::json;

Status bad_field(const std::string& field, const std::string& zh_expect,
                 const std::string& en_expect) {
  return Status::InvalidArgument("invalid_field", "字段「" + field + "」" + zh_expect,
                                 "field '" + field + "' " + en_expect);
}

// Optional string field; absent or null gives "".
Result<std::string> text(const json& j, const char* key) { return json_string(j, key); }

Result<std::vector<std::string>> texts(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array() || it->size() > 64)
    return bad_field(key, "应为字符串数组", "must be an array of strings");
  for (const json& v : *it) {
    if (!v.is_string() || v.get_ref<const std::string&>().size() > 256 ||
        !is_clean_utf8(v.get_ref<const std::string&>()))
      return bad_field(key, "应为字符串数组", "must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<bool> flag(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) return bad_field(key, "应为true或false", "must be true or false");
  return it->get<bool>();
}

Result<int> integer(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (!it->is_number_integer()) return bad_field(key, "应为整数", "must be an integer");
  const auto v = it->get<int64_t>();
  if (v < -1000000 || v > 1000000) return bad_field(key, "超出范围", "is out of range");
  return static_cast<int>(v);
}

#define TB_ASSIGN(lhs, expr)                \
  do {                                      \
    auto tb_r_ = (expr);                    \
    if (!tb_r_.ok()) return tb_r_.status(); \
    lhs = std::move(*tb_r_);                \
  } while (0)

Result<pb::Applicant> applicant_from(const json& j) {
  pb::Applicant a;
  auto it = j.find("applicant");
  if (it == j.end() || !it->is_object())
    return bad_field("applicant", "应为对象", "must be an object");
  std::string v;
  TB_ASSIGN(v, text(*it, "name"));
  a.set_name(v);
  TB_ASSIGN(v, text(*it, "id_number"));
  a.set_id_number(v);
  TB_ASSIGN(v, text(*it, "phone"));
  a.set_phone(v);
  bool ent = false;
  TB_ASSIGN(ent, flag(*it, "enterprise"));
  a.set_enterprise(ent);
  TB_ASSIGN(v, text(*it, "uscc"));
  a.set_uscc(v);
  TB_ASSIGN(v, text(*it, "org_name"));
  a.set_org_name(v);
  return a;
}

}  // namespace

Result<ApplicationInput> application_from(const json& j) {
  ApplicationInput in;
  TB_ASSIGN(in.item_code, text(j, "item_code"));
  TB_ASSIGN(in.applicant, applicant_from(j));
  TB_ASSIGN(in.provided, texts(j, "provided"));
  TB_ASSIGN(in.committed, texts(j, "committed"));
  std::string channel;
  TB_ASSIGN(channel, text(j, "channel"));
  if (!channel.empty()) in.channel = channel;
  TB_ASSIGN(in.appointment_id, text(j, "appointment_id"));
  if (auto f = j.find("form"); f != j.end() && !f->is_null()) {
    if (!f->is_object()) return bad_field("form", "应为对象", "must be an object");
    for (const auto& [k, v] : f->items()) {
      if (v.is_string())
        in.form[k] = v.get<std::string>();
      else if (v.is_number() || v.is_boolean())
        in.form[k] = v.dump();
      else
        return bad_field("form." + k, "应为字符串或数字", "must be a string or number");
    }
  }
  if (auto a = j.find("authorization"); a != j.end() && !a->is_null()) {
    if (!a->is_object()) return bad_field("authorization", "应为对象", "must be an object");
    pb::Authorization auth;
    std::string v;
    TB_ASSIGN(v, text(*a, "document_no"));
    auth.set_document_no(v);
    TB_ASSIGN(v, text(*a, "signed_date"));
    auth.set_signed_date(v);
    TB_ASSIGN(v, text(*a, "priority_group"));
    auth.set_priority_group(v);
    in.authorization = auth;
  }
  return in;
}

Result<AcceptInput> accept_from(const json& j) {
  AcceptInput a;
  TB_ASSIGN(a.tolerated, texts(j, "tolerated"));
  TB_ASSIGN(a.commitment_signed, flag(j, "commitment_signed"));
  TB_ASSIGN(a.supply_days, integer(j, "supply_days"));
  return a;
}

Result<BookingInput> booking_from(const json& j) {
  BookingInput b;
  TB_ASSIGN(b.item_code, text(j, "item_code"));
  TB_ASSIGN(b.date, text(j, "date"));
  TB_ASSIGN(b.slot, text(j, "slot"));
  TB_ASSIGN(b.applicant, applicant_from(j));
  return b;
}

Result<int> ticket_window(const json& j) {
  int window = 0;
  TB_ASSIGN(window, integer(j, "window"));
  if (window < 0 || window > 99)
    return Status::InvalidArgument("invalid_window", "窗口号应为 1 至 99", "window must be 1 to 99");
  return window;
}

Result<Rate> rating_from(const json& j) {
  Rate r;
  TB_ASSIGN(r.level, integer(j, "level"));
  TB_ASSIGN(r.comment, text(j, "comment"));
  std::string channel;
  TB_ASSIGN(channel, text(j, "channel"));
  if (!channel.empty()) r.channel = channel;
  auto it = j.find("indicators");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_object() || it->size() > 3)
      return bad_field("indicators", "应为对象，如 {\"efficiency\": 5}",
                       "must be an object such as {\"efficiency\": 5}");
    for (const char* name : {"efficiency", "quality", "attitude"}) {
      if (!it->contains(name)) continue;
      int level = 0;
      TB_ASSIGN(level, integer(*it, name));
      r.indicators.emplace_back(name, level);
    }
    if (r.indicators.size() != it->size())
      return bad_field("indicators", "只能包含 efficiency、quality、attitude",
                       "only efficiency, quality and attitude");
  }
  return r;
}

Result<Command> action_command(const std::string& action, const json& j) {
  std::string s1, s2;
  std::vector<std::string> v1, v2;
  bool b = false;
  if (action == "prereview-outcome") {
    TB_ASSIGN(b, flag(j, "passed"));
    TB_ASSIGN(v1, texts(j, "missing"));
    TB_ASSIGN(s1, text(j, "note"));
    return Command{RecordPreReviewOutcome{b, v1, s1}};
  }
  if (action == "submit") {
    ApplicationInput app;
    TB_ASSIGN(app, application_from(j));
    std::optional<AcceptInput> accept;
    if (auto a = j.find("accept"); a != j.end() && !a->is_null()) {
      if (!a->is_object()) return bad_field("accept", "应为对象", "must be an object");
      TB_ASSIGN(accept, accept_from(*a));
    }
    return Command{Submit{app, accept}};
  }
  if (action == "request-materials") {
    TB_ASSIGN(v1, texts(j, "missing"));
    TB_ASSIGN(s1, text(j, "note"));
    return Command{RequestMaterials{v1, s1}};
  }
  if (action == "supply") {
    TB_ASSIGN(v1, texts(j, "provided"));
    TB_ASSIGN(v2, texts(j, "committed"));
    return Command{SupplyMaterials{v1, v2}};
  }
  if (action == "accept") {
    AcceptInput a;
    TB_ASSIGN(a, accept_from(j));
    return Command{Accept{a}};
  }
  if (action == "refuse") {
    TB_ASSIGN(s1, text(j, "reason"));
    return Command{Refuse{s1}};
  }
  if (action == "review") return Command{StartReview{}};
  if (action == "suspend") {
    TB_ASSIGN(s1, text(j, "reason"));
    TB_ASSIGN(s2, text(j, "note"));
    return Command{Suspend{s1, s2}};
  }
  if (action == "resume") {
    TB_ASSIGN(s1, text(j, "note"));
    return Command{Resume{s1}};
  }
  if (action == "decide") {
    auto approve = j.find("approve");
    if (approve == j.end() || !approve->is_boolean())
      return bad_field("approve", "必须为true（准予）或false（不予）", "must be true or false");
    TB_ASSIGN(s1, text(j, "reason"));
    TB_ASSIGN(s2, text(j, "part"));
    return Command{DecideCase{approve->get<bool>(), s1, s2}};
  }
  if (action == "withdraw") {
    TB_ASSIGN(s1, text(j, "reason"));
    return Command{Withdraw{s1}};
  }
  if (action == "deliver") {
    TB_ASSIGN(s1, text(j, "method"));
    TB_ASSIGN(s2, text(j, "tracking_no"));
    return Command{Deliver{s1, s2}};
  }
  if (action == "callback") {
    TB_ASSIGN(s1, text(j, "note"));
    return Command{RecordCallback{s1}};
  }
  if (action == "rectify") {
    TB_ASSIGN(s1, text(j, "note"));
    return Command{RecordRectification{s1}};
  }
  if (action == "fee") {
    TB_ASSIGN(s1, text(j, "receipt_no"));
    const auto amount = j.find("amount_fen");
    if (amount == j.end() || !amount->is_number_integer())
      return Status::InvalidArgument("invalid_amount", "amount_fen 应为整数（单位：分）",
                                     "amount_fen must be a whole number of fen");
    return Command{RecordFee{amount->get<int64_t>(), s1}};
  }
  if (action == "rating-appeal") {
    TB_ASSIGN(s1, text(j, "evidence"));
    return Command{AppealRating{s1}};
  }
  if (action == "transfer-request") {
    TB_ASSIGN(s1, text(j, "reason"));
    TB_ASSIGN(s2, text(j, "to"));
    return Command{RequestTransfer{s1, s2}};
  }
  if (action == "supervision-answer") {
    auto id = j.find("alert_id");
    if (id == j.end() || !id->is_number_integer() || id->get<int64_t>() <= 0)
      return bad_field("alert_id", "必须为正整数（整改通知的预警编号）",
                       "must be a positive whole number (the order's alert id)");
    TB_ASSIGN(s1, text(j, "answer"));
    return Command{AnswerSupervision{id->get<int64_t>(), s1}};
  }
  if (action == "take") return Command{TakeCase{}};
  if (action == "return") {
    TB_ASSIGN(s1, text(j, "reason"));
    return Command{ReturnCase{s1}};
  }
  return Status::NotFound("unknown_action", "没有该操作：" + action,
                          "unknown case action: " + action);
}

}  // namespace tongban::node
