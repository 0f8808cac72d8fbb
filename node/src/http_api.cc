#include "tongban/node/http_api.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "request_json.h"
#include "tongban/shared/case_json.h"
#include "tongban/shared/documents.h"
#include "tongban/shared/http_errors.h"
#include "tongban/shared/http_server.h"
#include "tongban/shared/license.h"
#include "tongban/shared/personal.h"
#include "tongban/shared/validation.h"

namespace tongban::node {

namespace {

using nlohmann::json;

struct Reply {
  Reply(int status_ = 200, json body_ = {}) : status(status_), body(std::move(body_)) {}
  explicit Reply(CaseService::DocumentFile f) : file(std::move(f)) {}
  int status = 200;
  json body;
  std::optional<CaseService::DocumentFile> file;  // answered as the file's bytes instead
};

json appointment_json(const Appointment& a) {
  return {{"appointment_id", a.id},
          {"item_code", a.item_code},
          {"date", a.date},
          {"slot", a.slot},
          {"window", a.window},
          {"extended_hours", a.extended_hours},
          {"status", a.status},
          {"agent", a.agent},
          {"case_id", a.case_id},
          {"applicant",
           {{"name", a.applicant.name()},
            {"id_number", mask_id(a.applicant.id_number())},
            {"phone", mask_phone(a.applicant.phone())}}}};
}

json item_json(const Item& item, const Catalog& catalog) {
  json materials = json::array();
  for (const Material& m : catalog.materials_of(item))
    materials.push_back({{"code", m.code},
                         {"name", m.name},
                         {"required", m.required},
                         {"key", m.key},
                         {"commitment_allowed", m.commitment_allowed}});
  json decided_at = json::array();
  for (SiteKind k : item.decided_at) decided_at.push_back(to_string(k));
  json rule = json::array();
  for (const RuleCondition& c : item.instant_rule)
    rule.push_back({{"field", c.field}, {"op", c.op}, {"value", c.value}});
  return {{"code", item.code},
          {"name", item.name},
          {"type", to_string(item.type)},
          {"legal_basis", item.legal_basis},
          {"department", item.department},
          {"applicant", item.applicant == ApplicantKind::kEnterprise ? "enterprise" : "person"},
          {"promised_days", item.promised_days},
          {"legal_days", item.legal_days},
          {"fee", item.fee},
          {"fee_fen", item.fee_fen},
          {"channels", item.channels},
          {"decided_at", decided_at},
          {"cross_region", item.cross_region},
          {"tolerance_allowed", item.tolerance_allowed},
          {"instant_rule", rule},
          {"bundle_of", item.bundle_of},
          {"delegated_from", item.delegated_from},
          {"materials", materials}};
}

}  // namespace

struct HttpApi::Impl {
  NodeStore& store;
  CaseService& cases;
  StaffDirectory& staff = store.staff();
  std::function<json()> sync_status;
  JsonHttpServer http{http::ServerOptions{.max_body_bytes = kMaxBodyBytes}};
  http::Server& server = http.routes();

  using Handler = std::function<Result<Reply>(const http::Request&, const Actor&)>;

  std::function<Result<uint64_t>(const std::string&)> import_bundle;
  HttpApi::AskHub ask_hub;  // set before run(); read-only after

  Impl(NodeStore& st, CaseService& c, std::function<json()> sync,
       std::function<Result<uint64_t>(const std::string&)> import)
      : store(st), cases(c), sync_status(std::move(sync)), import_bundle(std::move(import)) {
    // Nothing of a protected request's body is read before its session checks out.
    server.set_gate(
        [this](const http::Request& head) { return staff.authenticate(bearer_token(head)); });
  }

  struct Wrapped {
    http::Handler handler;
    bool open;
  };
  void get(const std::string& pattern, Wrapped w) {
    server.Get(pattern, std::move(w.handler), http::RouteOptions{.open = w.open});
  }
  void post(const std::string& pattern, Wrapped w, size_t max_body = 0) {
    server.Post(pattern, std::move(w.handler),
                http::RouteOptions{.open = w.open, .max_body = max_body});
  }

  // Wraps a handler: authenticates (unless `open`), maps Status to HTTP, never throws.
  Wrapped wrap(Handler handler, bool open = false) {
    return {[handler, open](const http::Request& req, http::Response& res) {
      try {
        Actor actor;
        if (!open) {  // the gate admitted req.staff before the body was read
          if (!req.staff) return send_json(res, 500, error_json(Status::Internal("no session")));
          actor = Actor{req.staff->username, req.staff->role, false, req.staff->department};
        }
        auto reply = handler(req, actor);
        if (!reply.ok()) {
          const Status& s = reply.status();
          if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kInternal ||
              s.code() == StatusCode::kCorruption)
            spdlog::error("{} {}: {}", req.method, req.path, s.message_en());
          return send_json(res, http_status(s.code()), error_json(s));
        }
        if (reply->file)
          return send_file(res, reply->file->mime, reply->file->file_name,
                           std::move(reply->file->content));
        send_json(res, reply->status, reply->body);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: unexpected exception: {}", req.method, req.path, e.what());
        send_json(res, 500, error_json(Status::Internal("unexpected error")));
      }
    }, open};
  }

  Result<json> body(const http::Request& req) { return parse_json_object(req.body); }

  Result<Reply> case_reply(Result<CaseState> s, int status = 200) {
    if (!s.ok()) return s.status();
    const District& d = cases.district();
    return Reply{status, case_to_json(*s, cases.today(), d.calendar, d.yellow_days)};
  }

  Result<Reply> search_reply(CaseQuery q) {
    auto found = store.search(q, cases.today());
    if (!found.ok()) return found.status();
    return Reply{200, search_result_json(q, *found)};
  }

  void routes();
  void case_routes();
  void resident_routes();
  // The applicant a query names (id_number or uscc) as its blind index, hex.
  Result<std::string> applicant_of(const http::Request& req);
  void appointment_routes();
  void supervision_routes();
  void staff_routes();
};

void HttpApi::Impl::routes() {
  get("/api/v1/healthz",
             wrap(
                 [this](const http::Request&, const Actor&) -> Result<Reply> {
                   const json sync = sync_status ? sync_status() : json{{"offline", true}};
                   const auto halt = store.halted();
                   return Reply{200,
                                {{"status", "ok"},
                                 {"site", cases.site().id},
                                 {"site_name", cases.site().name},
                                 {"head_seq", store.head().seq},
                                 {"halted", halt ? json{{"reason", halt->reason},
                                                        {"message_zh", halt->message_zh},
                                                        {"message_en", halt->message_en},
                                                        {"since", format_time(halt->since)}}
                                                 : json(nullptr)},
                                 {"sync", sync}}};
                 },
                 true));

  // The public license check (证照核验): anyone holding a license file or its QR code asks
  // the node, which checks it offline against the district's public keys.
  post("/api/v1/licenses/verify",
       wrap(
           [this](const http::Request& req, const Actor&) -> Result<Reply> {
             auto license = verify_license(req.body, cases.district().public_keys);
             if (!license.ok()) {
               if (license.status().code() != StatusCode::kRejected) return license.status();
               return Reply{200,
                            {{"valid", false},
                             {"message", license.status().message_zh()},
                             {"message_en", license.status().message_en()}}};
             }
             json items = json::array();
             for (const auto& [code, name] : license->items)
               items.push_back({{"code", code}, {"name", name}});
             return Reply{200,
                          {{"valid", true},
                           {"license_no", license->license_no},
                           {"case_id", license->case_id},
                           {"issuer", license->issuer},
                           {"holder", license->holder},
                           {"issued_date", license->issued_date},
                           {"items", items}}};
           },
           true));

  post(
      "/api/v1/login",
      wrap(
          [this](const http::Request& req, const Actor&) -> Result<Reply> {
            auto j = body(req);
            if (!j.ok()) return j.status();
            auto user = json_string(*j, "username");
            if (!user.ok()) return user.status();
            auto pass = json_string(*j, "password");
            if (!pass.ok()) return pass.status();
            auto session = staff.login(*user, *pass, req.remote_addr);
            if (!session.ok()) return session.status();
            spdlog::info("login {} ({})", session->staff.username, to_string(session->staff.role));
            return Reply{200,
                         {{"token", session->token},
                          {"username", session->staff.username},
                          {"display_name", session->staff.display_name},
                          {"role", to_string(session->staff.role)},
                          {"role_zh", label_zh(session->staff.role)},
                          {"site", cases.site().id},
                          {"expires_at", format_time(session->expires_at)}}};
          },
          true));

  post("/api/v1/logout",
              wrap([this](const http::Request& req, const Actor&) -> Result<Reply> {
                TB_RETURN_IF_ERROR(staff.logout(bearer_token(req)));
                return Reply{200, {{"ok", true}}};
              }));

  // 好差评: the resident rates with a one-time ticket a clerk (or the case's agent) asks for;
  // the pad and the QR code open /console/#/rate/<token>. The open routes show and take a
  // rating only: no personal data of the case, and no other case, is reachable with it.
  post(R"(/api/v1/cases/([A-Za-z0-9-]+)/rating-ticket)",
       wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
         auto j = body(req);
         if (!j.ok()) return j.status();
         auto window = ticket_window(*j);
         if (!window.ok()) return window.status();
         auto ticket = cases.issue_rating_ticket(req.matches[1], a, *window);
         if (!ticket.ok()) return ticket.status();
         return Reply{201,
                      {{"token", ticket->token},
                       {"expires_at", format_time(ticket->expires_at)},
                       {"pad", "/console/#/rate/" + ticket->token}}};
       }));
  get(R"(/api/v1/ratings/([0-9a-f]{64}))",
      wrap(
          [this](const http::Request& req, const Actor&) -> Result<Reply> {
            auto s = cases.ticket_case(req.matches[1]);
            if (!s.ok()) return s.status();
            return Reply{200,
                         {{"case_id", s->case_id},
                          {"item_name", s->item_name},
                          {"site", cases.site().id},
                          {"site_name", cases.site().name},
                          {"status_zh", label_zh(s->status)},
                          {"follow_up", s->rating && s->rating->follow_up_due()},
                          {"rated", s->rating && !s->rating->follow_up_due()}}};
          },
          true));
  post(R"(/api/v1/ratings/([0-9a-f]{64}))",
       wrap(
           [this](const http::Request& req, const Actor&) -> Result<Reply> {
             auto j = body(req);
             if (!j.ok()) return j.status();
             auto rate = rating_from(*j);
             if (!rate.ok()) return rate.status();
             auto s = cases.rate_with_ticket(req.matches[1], std::move(*rate));
             if (!s.ok()) return s.status();
             return Reply{201,
                          {{"case_id", s->case_id},
                           {"level", s->rating->level},
                           {"bad", s->rating->bad()},
                           {"follow_up_level", s->rating->follow_up_level}}};
           },
           true));

  post("/api/v1/password",
              wrap([this](const http::Request& req, const Actor&) -> Result<Reply> {
                auto done = change_own_password(staff, req);
                if (!done.ok()) return done.status();
                return Reply{200, *done};
              }));

  get("/api/v1/me", wrap([this](const http::Request&, const Actor& a) -> Result<Reply> {
               return Reply{200,
                            {{"username", a.username},
                             {"role", to_string(a.role)},
                             {"role_zh", label_zh(a.role)},
                             {"site", cases.site().id},
                             {"site_name", cases.site().name}}};
             }));

  get("/api/v1/catalog",
             wrap([this](const http::Request&, const Actor&) -> Result<Reply> {
               const auto catalog = cases.current_catalog();
               json items = json::array();
               for (const Item& item : catalog->items())
                 if (cases.handles(item.code)) items.push_back(item_json(item, *catalog));
               return Reply{200, {{"version", catalog->version()}, {"items", items}}};
             }));

  get(R"(/api/v1/catalog/([A-Za-z0-9_-]+))",
             wrap([this](const http::Request& req, const Actor&) -> Result<Reply> {
               const auto catalog = cases.current_catalog();
               const Item* item = catalog->find(req.matches[1]);
               if (!item)
                 return Status::NotFound("unknown_item", "事项不存在", "unknown item code");
               json j = item_json(*item, *catalog);
               j["handled_here"] = cases.handles(item->code);
               return Reply{200, j};
             }));

  case_routes();
  resident_routes();
  appointment_routes();
  supervision_routes();
  staff_routes();
}

namespace {

json resident_cases_json(const pb::ResidentAnswer& a) {
  json cases = json::array();
  for (const pb::ResidentCase& c : a.cases()) {
    const auto status = case_status_from(c.status());
    cases.push_back({{"case_id", c.case_id()},
                     {"site", c.site()},
                     {"owner", c.owner()},
                     {"item_code", c.item_code()},
                     {"item_name", c.item_name()},
                     {"status", c.status()},
                     {"status_zh", status ? label_zh(*status) : c.status()},
                     {"updated_at", format_time(c.updated_ts())},
                     {"open", c.open()}});
  }
  return cases;
}

}  // namespace

// One person across the district (docs/api.md "Residents across the district"): the
// applicant by blind index, asked of the hub over the sync link.
Result<std::string> HttpApi::Impl::applicant_of(const http::Request& req) {
  const std::string id_number = req.get_param_value("id_number"), uscc = req.get_param_value("uscc");
  if (id_number.empty() == uscc.empty())
    return Status::InvalidArgument("missing_field", "请填写身份证号码或统一社会信用代码（二选一）",
                                   "give id_number or uscc (one of them)");
  const Keyring* keys = store.keyring();
  if (!keys) return Status::Conflict("no_keyring", "本站点未加载数据密钥", "this node has no keyring");
  const std::string blind = !id_number.empty() ? blind_id(*keys, id_number) : blind_uscc(*keys, uscc);
  if (blind.empty())
    return Status::InvalidArgument("invalid_field", "证件号码无效", "the number is empty once normalised");
  return to_hex(reinterpret_cast<const uint8_t*>(blind.data()), blind.size());
}

void HttpApi::Impl::resident_routes() {
  // At acceptance: the same resident's open application for the item at another site, and
  // a 容缺 commitment broken anywhere. Offline the node proceeds: checked = false.
  get("/api/v1/residents/check",
      wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
        // Agents do not ask about residents across the district (no probing by number).
        if (a.role != Role::kClerk && a.role != Role::kReviewer)
          return Status::PermissionDenied("forbidden_role", "仅综窗受理员和审批员可用",
                                          "for clerks and reviewers only");
        auto applicant = applicant_of(req);
        if (!applicant.ok()) return applicant.status();
        const std::string item = req.get_param_value("item_code");
        if (item.empty() || item.size() > 64)
          return Status::InvalidArgument("missing_field", "请填写事项编码", "item_code is required");
        pb::ResidentQuery q;
        q.set_applicant_id(*applicant);
        q.set_item_code(item);
        q.set_exclude_case(req.get_param_value("case_id"));
        auto answer = ask_hub ? ask_hub(std::move(q))
                              : Result<pb::ResidentAnswer>(Status::Make(
                                    StatusCode::kUnavailable, "offline", "本站点离线运行",
                                    "this node runs offline"));
        if (!answer.ok() || !answer->error().empty())
          return Reply{200,
                       {{"checked", false},
                        {"duplicates", json::array()},
                        {"broke_commitment", nullptr},
                        {"message", "暂时无法连接区级中心，未能核查全区重复申请；受理后由中心核查"},
                        {"message_en", "the hub could not be asked: the district is checked "
                                       "when the events arrive"}}};
        return Reply{200,
                     {{"checked", true},
                      {"duplicates", resident_cases_json(*answer)},
                      {"broke_commitment", answer->broke_commitment()}}};
      }));

  // 破窗查询: a clerk looks up a resident's cases at every site, with a stated reason the
  // hub records (who, where, when, why) before it answers.
  get("/api/v1/residents/cases",
      wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
        if (a.role != Role::kClerk && a.role != Role::kReviewer)
          return Status::PermissionDenied("forbidden_role", "仅综窗受理员和审批员可查询",
                                          "for clerks and reviewers only");
        auto applicant = applicant_of(req);
        if (!applicant.ok()) return applicant.status();
        const std::string reason = req.get_param_value("reason");
        if (reason.size() < 4 || reason.size() > 500 || !is_clean_utf8(reason))
          return Status::InvalidArgument("reason_required", "跨站查询须说明事由（4–500 字节）",
                                         "a lookup across sites needs a stated reason (4-500 bytes)");
        if (!ask_hub)
          return Status::Make(StatusCode::kUnavailable, "offline", "本站点离线运行，无法跨站查询",
                              "this node runs offline: no lookup across sites");
        pb::ResidentQuery q;
        q.set_applicant_id(*applicant);
        q.set_reason(reason);
        q.set_staff(a.username);
        auto answer = ask_hub(std::move(q));
        if (!answer.ok()) return answer.status();
        if (!answer->error().empty())
          return Status::Make(StatusCode::kUnavailable, "hub_refused",
                              "区级中心未能答复（" + answer->error() + "）",
                              "the hub did not answer (" + answer->error() + ")");
        spdlog::info("{} looked up a resident across the district (reason recorded at the hub)",
                     a.username);
        return Reply{200,
                     {{"cases", resident_cases_json(*answer)},
                      {"count", answer->cases_size()},
                      {"broke_commitment", answer->broke_commitment()}}};
      }));
}

void HttpApi::Impl::case_routes() {
  post("/api/v1/prereviews",
              wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
                auto j = body(req);
                if (!j.ok()) return j.status();
                auto app = application_from(*j);
                if (!app.ok()) return app.status();
                return case_reply(cases.create(StartPreReview{*app}, a), 201);
              }));

  post("/api/v1/cases",
              wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
                auto j = body(req);
                if (!j.ok()) return j.status();
                auto cmd = action_command("submit", *j);
                if (!cmd.ok()) return cmd.status();
                return case_reply(cases.create(*cmd, a), 201);
              }));

  get("/api/v1/cases",
             wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
               auto parsed = case_query_from(req, store.keyring());
               if (!parsed.ok()) return parsed.status();
               CaseQuery q = std::move(*parsed);
               cases.scope(q, a);  // agents: their own; departmental reviewers: their items
               return search_reply(q);
             }));

  get("/api/v1/agent/cases",
             wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
               if (a.role != Role::kAgent)
                 return Status::PermissionDenied("forbidden_role", "仅代办员可用",
                                                 "for community agents only");
               // The filters of GET /cases, checked the same way (a bad limit is 400).
               auto parsed = case_query_from(req, store.keyring());
               if (!parsed.ok()) return parsed.status();
               CaseQuery q = std::move(*parsed);
               q.agent = a.username;
               if (!req.has_param("limit")) q.limit = 200;
               return search_reply(q);
             }));

  get(R"(/api/v1/cases/([A-Za-z0-9-]+))",
             wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
               return case_reply(cases.get(req.matches[1], a));
             }));

  get(R"(/api/v1/cases/([A-Za-z0-9-]+)/events)",
             wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
               auto events = cases.events(req.matches[1], a);
               if (!events.ok()) return events.status();
               return Reply{200, case_events_json(req.matches[1], *events)};
             }));

  get(R"(/api/v1/cases/([A-Za-z0-9-]+)/license)",
             wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
               auto s = cases.get(req.matches[1], a);
               if (!s.ok()) return s.status();
               if (s->license_no.empty())
                 return Status::NotFound("no_license", "该案件没有电子证照",
                                         "the case has no e-license");
               return Reply{200,
                            {{"license_no", s->license_no},
                             {"payload", s->license_payload},
                             {"signature", s->license_signature},
                             {"signer", s->origin}}};
             }));

  // 电子材料 (before the action route, which would take ".../documents" for an action).
  // The body is the file itself; ?material= names the material entry, ?name= the file.
  post(R"(/api/v1/cases/([A-Za-z0-9-]+)/documents)",
       wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
         CaseService::DocumentUpload up;
         up.material_code = req.get_param_value("material");
         up.file_name = req.get_param_value("name");
         up.declared_type = req.get_header_value("Content-Type");
         up.content = req.body;
         return case_reply(cases.attach_document(req.matches[1], up, a), 201);
       }),
       kMaxDocumentBytes);

  get(R"(/api/v1/cases/([A-Za-z0-9-]+)/documents)",
      wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
        auto s = cases.get(req.matches[1], a);
        if (!s.ok()) return s.status();
        auto held = store.documents(s->case_id);
        if (!held.ok()) return held.status();
        return Reply{200, documents_to_json(*s, *held)};
      }));

  get(R"(/api/v1/cases/([A-Za-z0-9-]+)/documents/([0-9a-f]{64}))",
      wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
        auto file = cases.read_document(req.matches[1], req.matches[2], a);
        if (!file.ok()) return file.status();
        return Reply(std::move(*file));
      }));

  post(R"(/api/v1/cases/([A-Za-z0-9-]+)/([a-z-]+))",
              wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
                auto j = body(req);
                if (!j.ok()) return j.status();
                auto cmd = action_command(req.matches[2], *j);
                if (!cmd.ok()) return cmd.status();
                return case_reply(cases.execute(req.matches[1], *cmd, a));
              }));

  get("/api/v1/queue/today",
             wrap([this](const http::Request&, const Actor& a) -> Result<Reply> {
               if (a.role == Role::kAgent)
                 return Status::PermissionDenied("forbidden_role", "代办员请使用“我的代办”",
                                                 "agents use /api/v1/agent/cases");
               const Date today = cases.today();
               json out = {{"date", format_date(today)}};
               auto appts = store.appointments_on(format_date(today), "");
               if (!appts.ok()) return appts.status();
               out["appointments"] = json::array();
               for (const Appointment& ap : *appts)
                 out["appointments"].push_back(appointment_json(ap));
               const auto section = [&](const char* name, const char* status,
                                        const char* clock) -> Status {
                 CaseQuery q;
                 q.status = status;
                 q.clock = clock;
                 q.limit = 200;
                 cases.scope(q, a);
                 auto found = store.search(q, today);
                 if (!found.ok()) return found.status();
                 json& list = out[name] = json::array();
                 for (const CaseSummary& c : *found) list.push_back(summary_to_json(c));
                 return Status::Ok();
               };
               TB_RETURN_IF_ERROR(section("awaiting_acceptance", "submitted", ""));
               TB_RETURN_IF_ERROR(section("awaiting_materials", "awaiting_materials", ""));
               TB_RETURN_IF_ERROR(section("overdue", "", "red"));
               TB_RETURN_IF_ERROR(section("due_soon", "", "yellow"));
               auto tasks = store.open_rating_tasks();
               if (!tasks.ok()) return tasks.status();
               out["rating_tasks"] = json::array();
               for (const CaseSummary& c : *tasks)
                 out["rating_tasks"].push_back(summary_to_json(c));
               return Reply{200, out};
             }));
}

void HttpApi::Impl::supervision_routes() {
  // 电子监察: the hub's rectification orders this site has still to answer, earliest due first.
  get("/api/v1/supervision-orders",
      wrap([this](const http::Request&, const Actor& a) -> Result<Reply> {
        if (a.role == Role::kAgent)
          return Status::PermissionDenied("forbidden_role", "代办员无权查看整改通知",
                                          "agents do not see rectification orders");
        auto ordered = store.open_supervision_orders();
        if (!ordered.ok()) return ordered.status();
        json list = json::array();
        for (const CaseState& s : *ordered)
          for (const SupervisionOrder& o : s.supervision_orders)
            if (o.open() && o.site == cases.site().id) {
              json j = supervision_order_json(o);
              j["case_id"] = s.case_id;
              j["item_name"] = s.item_name;
              list.push_back(std::move(j));
            }
        return Reply{200, json{{"orders", list}}};
      }));
}

void HttpApi::Impl::appointment_routes() {
  get("/api/v1/appointments/slots",
             wrap([this](const http::Request& req, const Actor&) -> Result<Reply> {
               const auto date = parse_date(req.get_param_value("date"));
               if (!date)
                 return Status::InvalidArgument("invalid_date", "日期格式应为YYYY-MM-DD",
                                                "date must be YYYY-MM-DD");
               auto slots = cases.slots(*date);
               if (!slots.ok()) return slots.status();
               json list = json::array();
               for (const Slot& s : *slots)
                 list.push_back({{"time", s.time},
                                 {"extended_hours", s.extended_hours},
                                 {"capacity", s.capacity},
                                 {"booked", s.booked},
                                 {"available", s.capacity - s.booked}});
               return Reply{200,
                            {{"date", format_date(*date)},
                             {"working_day", cases.district().calendar.is_working_day(*date)},
                             {"slots", list}}};
             }));

  get("/api/v1/appointments",
             wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
               std::string date = req.get_param_value("date");
               if (date.empty()) date = format_date(cases.today());
               if (!parse_date(date))
                 return Status::InvalidArgument("invalid_date", "日期格式应为YYYY-MM-DD",
                                                "date must be YYYY-MM-DD");
               auto list = store.appointments_on(date, a.role == Role::kAgent ? a.username : "");
               if (!list.ok()) return list.status();
               json out = json::array();
               for (const Appointment& ap : *list) out.push_back(appointment_json(ap));
               return Reply{200, {{"date", date}, {"appointments", out}}};
             }));

  post("/api/v1/appointments",
              wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
                auto j = body(req);
                if (!j.ok()) return j.status();
                auto in = booking_from(*j);
                if (!in.ok()) return in.status();
                auto ap = cases.book(*in, a);
                if (!ap.ok()) return ap.status();
                return Reply{201, appointment_json(*ap)};
              }));

  post(R"(/api/v1/appointments/([A-Za-z0-9-]+)/(check-in|cancel))",
              wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
                auto ap = req.matches[2] == "check-in" ? cases.check_in(req.matches[1], a)
                                                       : cases.cancel(req.matches[1], a);
                if (!ap.ok()) return ap.status();
                return Reply{200, appointment_json(*ap)};
              }));
}

void HttpApi::Impl::staff_routes() {
  const auto admin_only = [](const Actor& a) -> Status {
    if (a.role != Role::kAdmin)
      return Status::PermissionDenied("forbidden_role", "仅站点管理员可管理账号",
                                      "site admins only");
    return Status::Ok();
  };
  get("/api/v1/staff",
             wrap([this, admin_only](const http::Request&, const Actor& a) -> Result<Reply> {
               TB_RETURN_IF_ERROR(admin_only(a));
               auto list = staff.list();
               if (!list.ok()) return list.status();
               json out = json::array();
               for (const Staff& s : *list)
                 out.push_back({{"username", s.username},
                                {"display_name", s.display_name},
                                {"role", to_string(s.role)},
                                {"department", s.department}});
               return Reply{200, {{"staff", out}}};
             }));
  post(
      "/api/v1/staff",
      wrap([this, admin_only](const http::Request& req, const Actor& a) -> Result<Reply> {
        TB_RETURN_IF_ERROR(admin_only(a));
        auto j = body(req);
        if (!j.ok()) return j.status();
        auto role_name = json_string(*j, "role");
        if (!role_name.ok()) return role_name.status();
        // A site has these four roles; the hub's roles exist only at the hub.
        const auto role = role_from(*role_name);
        if (!role || *role == Role::kOperator || *role == Role::kSupervisor || *role == Role::kOfficer)
          return Status::InvalidArgument("invalid_role", "岗位应为 clerk/reviewer/agent/admin",
                                         "role must be clerk, reviewer, agent or admin");
        auto username = json_string(*j, "username");
        if (!username.ok()) return username.status();
        auto display_name = json_string(*j, "display_name");
        if (!display_name.ok()) return display_name.status();
        auto password = json_string(*j, "password");
        if (!password.ok()) return password.status();
        auto department = json_string(*j, "department");
        if (!department.ok()) return department.status();
        if (!department->empty()) {
          if (*role != Role::kReviewer)
            return Status::InvalidArgument("department_for_reviewers", "只有审核人员按部门划分",
                                           "only reviewers belong to a department");
          const auto catalog = cases.current_catalog();
          const bool known = std::any_of(
              catalog->items().begin(), catalog->items().end(),
              [&](const Item& item) { return item.department == *department; });
          if (!known)
            return Status::InvalidArgument("unknown_department", "事项目录中没有该部门：" + *department,
                                           "no item of the catalog belongs to that department");
        }
        TB_RETURN_IF_ERROR(
            staff.create(*username, *display_name, *role, *password, *department));
        spdlog::info("staff {} created as {} by {}", *username, to_string(*role), a.username);
        return Reply{201, {{"username", *username},
                           {"role", to_string(*role)},
                           {"department", *department}}};
      }));
  // Residents' data at rest: the data key, and its rotation (re-sealing runs in the
  // background; the old key is retired when no row is left under it).
  const auto key_status = [](const NodeStore::KeyStatus& st) {
    return json{{"active_key", st.active}, {"keys", st.keys}, {"resealing", st.keys.size() > 1}};
  };
  get("/api/v1/admin/data-key",
      wrap([this, admin_only, key_status](const http::Request&, const Actor& a) -> Result<Reply> {
        TB_RETURN_IF_ERROR(admin_only(a));
        const Keyring* keys = store.keyring();
        if (!keys)
          return Status::Conflict("no_keyring", "本节点未加载数据密钥", "this node has no keyring");
        return Reply{200, key_status({keys->active_key(), keys->key_ids(), 0})};
      }));
  post("/api/v1/admin/data-key/rotate",
       wrap([this, admin_only, key_status](const http::Request&, const Actor& a) -> Result<Reply> {
         TB_RETURN_IF_ERROR(admin_only(a));
         auto st = store.rotate_data_key();
         if (!st.ok()) return st.status();
         spdlog::info("data key rotated by {}", a.username);
         return Reply{202, key_status(*st)};
       }));

  post(
      R"(/api/v1/staff/([A-Za-z0-9_.-]+)/disable)",
      wrap([this, admin_only](const http::Request& req, const Actor& a) -> Result<Reply> {
        TB_RETURN_IF_ERROR(admin_only(a));
        TB_RETURN_IF_ERROR(staff.set_disabled(req.matches[1], true));
        return Reply{200, {{"username", std::string(req.matches[1])}, {"disabled", true}}};
      }));

  post(
      R"(/api/v1/staff/([A-Za-z0-9_.-]+)/password)",
      wrap([this, admin_only](const http::Request& req, const Actor& a) -> Result<Reply> {
        TB_RETURN_IF_ERROR(admin_only(a));
        auto j = body(req);
        if (!j.ok()) return j.status();
        auto next = json_string(*j, "new_password");
        if (!next.ok()) return next.status();
        TB_RETURN_IF_ERROR(staff.reset_password(req.matches[1], *next));
        spdlog::info("password of {} reset by {}", std::string(req.matches[1]), a.username);
        return Reply{200, {{"username", std::string(req.matches[1])}, {"ok", true}}};
      }));

  // A sealed bundle of the hub's stream to this site, carried on media (no link).
  if (import_bundle)
    server.Post(
        "/api/v1/bundles",
        wrap([this](const http::Request& req, const Actor& a) -> Result<Reply> {
          if (a.role != Role::kAdmin)
            return Status::PermissionDenied("forbidden_role", "仅站点管理员可导入离线包",
                                            "site admins only");
          auto added = import_bundle(req.body);
          if (!added.ok()) return added.status();
          spdlog::info("hub bundle imported by {}: {} new stream events", a.username, *added);
          return Reply{200, {{"added", *added}}};
        }).handler,
        http::RouteOptions{.max_body = kMaxUploadBytes});
}

HttpApi::HttpApi(NodeStore& store, CaseService& cases, std::function<json()> sync_status,
                 std::function<Result<uint64_t>(const std::string& sealed)> import_bundle)
    : impl_(std::make_unique<Impl>(store, cases, std::move(sync_status),
                                   std::move(import_bundle))) {
  impl_->routes();
}

HttpApi::~HttpApi() = default;

Result<int> HttpApi::bind(const std::string& host, int port) {
  return impl_->http.bind(host, port);
}
void HttpApi::set_ask_hub(AskHub ask) { impl_->ask_hub = std::move(ask); }

void HttpApi::serve_console(std::shared_ptr<const http::StaticFiles> files) {
  http::mount_console(impl_->http.routes(), std::move(files));
}
Status HttpApi::use_tls(const std::filesystem::path& cert, const std::filesystem::path& key) {
  return impl_->http.routes().use_tls(cert, key);
}
void HttpApi::serve_metrics(std::function<void(metrics::Text&)> write) {
  impl_->http.serve_metrics(std::move(write));
}
bool HttpApi::run() { return impl_->http.run(); }
void HttpApi::stop() { impl_->http.stop(); }

}  // namespace tongban::node
