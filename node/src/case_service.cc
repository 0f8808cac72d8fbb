#include "tongban/node/case_service.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "tongban/shared/documents.h"
#include "tongban/shared/projector.h"
#include "tongban/shared/validation.h"

namespace tongban::node {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

Status forbidden(const Actor& actor) {
  return Status::PermissionDenied(
      "forbidden_role", std::string("当前岗位（") + label_zh(actor.role) + "）无权执行此操作",
      std::string("role ") + to_string(actor.role) + " may not do this");
}

Status not_found(const std::string& what_zh, const std::string& what_en) {
  return Status::NotFound("not_found", what_zh + "不存在", what_en + " not found");
}

std::string compact_date(Date d) {
  std::string s = format_date(d);
  std::erase(s, '-');
  return s;
}

const pb::Applicant* applicant_of(const Command& c) {
  if (const auto* s = std::get_if<Submit>(&c)) return &s->app.applicant;
  if (const auto* p = std::get_if<StartPreReview>(&c)) return &p->app.applicant;
  return nullptr;
}

}  // namespace

namespace {

// The departments that decide a case: its item's, or for a bundle (一件事) those of its
// parts (only `part`'s when one is named).
std::set<std::string> deciding_departments(const CaseState& s, const std::string& part) {
  if (s.parts.empty()) return {s.department};
  std::set<std::string> out;
  for (const CasePart& p : s.parts)
    if (part.empty() || part == p.item_code) out.insert(p.department);
  return out;
}

// 后台分类审批: a reviewer of a department reviews and decides only its items, or its parts
// of a bundle (一件事); the front desk still accepts any item.
Status check_department(const CaseState& s, const Command& command, const Actor& actor) {
  if (actor.system || actor.role != Role::kReviewer || actor.department.empty() || !s.exists())
    return Status::Ok();
  const bool review = std::holds_alternative<StartReview>(command) ||
                      std::holds_alternative<Suspend>(command) ||
                      std::holds_alternative<Resume>(command) ||
                      std::holds_alternative<DecideCase>(command);
  if (!review) return Status::Ok();
  const auto* decide = std::get_if<DecideCase>(&command);
  const std::set<std::string> departments = deciding_departments(s, decide ? decide->part : "");
  if (departments.count(actor.department)) return Status::Ok();
  std::string owners;
  for (const std::string& d : departments) owners += (owners.empty() ? "" : "、") + d;
  return Status::PermissionDenied("not_your_department",
                                  "该事项由" + owners + "审批，您属于" + actor.department,
                                  "the item is decided by " + owners + ", not by " +
                                      actor.department);
}

}  // namespace

bool role_may(Role role, const Command& command) {
  using R = Role;
  const auto any_of = [role](std::initializer_list<Role> roles) {
    for (Role r : roles)
      if (r == role) return true;
    return false;
  };
  return std::visit(Overloaded{
                        [&](const StartPreReview&) {
                          return any_of({R::kClerk, R::kAgent});
                        },
                        [&](const RecordPreReviewOutcome&) {
                          return any_of({R::kClerk, R::kReviewer});
                        },
                        [&](const Submit&) {
                          return any_of({R::kClerk, R::kAgent});
                        },
                        [&](const RequestMaterials&) { return any_of({R::kClerk}); },
                        [&](const SupplyMaterials&) {
                          return any_of({R::kClerk, R::kAgent});
                        },
                        [&](const Accept&) { return any_of({R::kClerk}); },
                        [&](const Refuse&) { return any_of({R::kClerk}); },
                        [&](const StartReview&) { return any_of({R::kReviewer}); },
                        [&](const Suspend&) { return any_of({R::kReviewer}); },
                        [&](const Resume&) { return any_of({R::kReviewer}); },
                        [&](const DecideCase&) { return any_of({R::kReviewer}); },
                        [&](const Withdraw&) {
                          return any_of({R::kClerk, R::kAgent});
                        },
                        [&](const Deliver&) { return any_of({R::kClerk}); },
                        // The resident rates, with a ticket (rate_with_ticket); no staff
                        // member rates a service, their own least of all.
                        [&](const Rate&) { return false; },
                        [&](const RecordCallback&) {
                          return any_of({R::kAdmin, R::kReviewer});
                        },
                        [&](const RecordRectification&) {
                          return any_of({R::kAdmin, R::kReviewer});
                        },
                        [&](const AppealRating&) {
                          return any_of({R::kAdmin, R::kReviewer});
                        },
                        // The window that collected a fee records it, receipt in hand.
                        [&](const RecordFee&) { return any_of({R::kClerk, R::kAdmin}); },
                        [&](const Sweep&) { return false; },
                        [&](const RequestTransfer&) {
                          return any_of({R::kClerk, R::kReviewer, R::kAdmin});
                        },
                        [&](const TakeCase&) {
                          return any_of({R::kClerk, R::kReviewer, R::kAdmin});
                        },
                        [&](const ReturnCase&) {
                          return any_of({R::kClerk, R::kReviewer, R::kAdmin});
                        },
                        // 电子材料: those who handle the case scan and read its files.
                        [&](const AttachDocument&) {
                          return any_of({R::kClerk, R::kAgent, R::kReviewer});
                        },
                        [&](const ViewDocument&) {
                          return any_of({R::kClerk, R::kAgent, R::kReviewer});
                        },
                        // 电子监察: the site's head and its reviewers answer for the site.
                        [&](const AnswerSupervision&) {
                          return any_of({R::kAdmin, R::kReviewer});
                        },
                    },
                    command);
}

CaseService::CaseService(const District& district, const SiteConfig& site, NodeStore& store,
                         const SigningKey& key)
    : district_(district), site_(site), store_(store), key_(key) {
  // The catalog of site-config, then every newer version the hub sent earlier.
  catalogs_[district.catalog.version()] =
      std::shared_ptr<const Catalog>(&district.catalog, [](const Catalog*) {});
  auto stored = store.catalog_versions();
  if (stored.ok()) {
    for (const auto& [version, toml] : *stored) {
      auto c = parse_catalog(toml);
      if (c.ok())
        catalogs_[version] = std::make_shared<const Catalog>(std::move(*c));
      else
        spdlog::error("stored catalog version {} does not parse: {}", version,
                      c.status().message_en());
    }
  }
}

void CaseService::install_catalog(std::shared_ptr<const Catalog> catalog) {
  std::lock_guard lock(mu_);
  catalogs_[catalog->version()] = std::move(catalog);
}

CaseService::Catalogs CaseService::catalogs() {
  std::lock_guard lock(mu_);
  return catalogs_;
}

std::shared_ptr<const Catalog> CaseService::current_catalog() {
  std::lock_guard lock(mu_);
  return catalogs_.rbegin()->second;
}

bool CaseService::handles(const std::string& item_code) {
  if (!site_.all_items) return site_.items.count(item_code) > 0;
  return current_catalog()->find(item_code) != nullptr;
}

void CaseService::committed() {
  std::function<void()> fn;
  {
    std::lock_guard lock(mu_);
    fn = on_commit_;
  }
  if (fn) fn();
}

Result<CaseState> CaseService::create(const Command& command, const Actor& actor) {
  if (!std::holds_alternative<Submit>(command) && !std::holds_alternative<StartPreReview>(command))
    return Status::InvalidArgument("not_a_creation", "该操作不能新建案件",
                                   "only submit or pre-review create a case");
  auto outcome = run("", command, actor, true);
  if (!outcome.ok()) return outcome.status();
  return std::move(outcome->state);
}

Result<CaseState> CaseService::execute(const std::string& case_id, const Command& command,
                                       const Actor& actor) {
  auto outcome = run(case_id, command, actor, false);
  if (!outcome.ok()) return outcome.status();
  return std::move(outcome->state);
}

Result<CaseService::Outcome> CaseService::run(
    const std::string& case_id, const Command& command, const Actor& actor, bool create,
    const std::function<Status(NodeStore::Writer&)>& also) {
  if (!create && !valid_case_id(case_id)) return not_found("案件", "case " + case_id);
  const Catalogs versions = catalogs();
  CaseState after;
  auto appended = store_.write([&](NodeStore::Writer& w) -> Status {
    CaseState state;
    if (!create) {
      auto loaded = w.load_case(case_id);
      if (!loaded.ok()) return loaded.status();
      if (!is_case(*loaded)) return not_found("案件", "case " + case_id);
      state = std::move(*loaded);
    }
    auto next = apply(w, versions, std::move(state), command, actor, create);
    if (!next.ok()) return next.status();
    after = std::move(*next);
    return also ? also(w) : Status::Ok();
  });
  if (!appended.ok()) return appended.status();
  if (*appended == 0) return Outcome{std::move(after), 0};
  committed();
  // Never the applicant: logs hold no personal data.
  spdlog::info("case {} {} by {}", after.case_id, to_string(after.status),
               actor.system ? "system" : actor.username);
  return Outcome{std::move(after), *appended};
}

Result<std::vector<std::string>> CaseService::bulk_create(const std::vector<Script>& scripts) {
  const Catalogs versions = catalogs();
  std::vector<std::string> ids;
  auto appended = store_.write([&](NodeStore::Writer& w) -> Status {
    for (const Script& script : scripts) {
      CaseState state;
      for (size_t i = 0; i < script.size(); ++i) {
        auto next =
            apply(w, versions, std::move(state), script[i].second, script[i].first, i == 0);
        if (!next.ok()) return next.status();
        state = std::move(*next);
      }
      ids.push_back(state.case_id);
    }
    return Status::Ok();
  });
  if (!appended.ok()) return appended.status();
  committed();
  return ids;
}

Result<CaseState> CaseService::apply(NodeStore::Writer& writer, const Catalogs& catalogs,
                                     CaseState state, const Command& command, const Actor& actor,
                                     bool create) {
  if (!actor.system && !role_may(actor.role, command)) return forbidden(actor);
  // Another agent's case answers like no case at all: an agent cannot probe which ids exist.
  if (!create && actor.role == Role::kAgent && !actor.system && state.agent != actor.username)
    return not_found("案件", "case " + state.case_id);
  TB_RETURN_IF_ERROR(check_department(state, command, actor));

  Command cmd = command;
  // An agent always acts as themself; a clerk never submits in an agent's name.
  if (auto* s = std::get_if<Submit>(&cmd))
    s->app.agent = actor.role == Role::kAgent ? actor.username : "";
  if (auto* p = std::get_if<StartPreReview>(&cmd))
    p->app.agent = actor.role == Role::kAgent ? actor.username : "";

  DecideContext ctx;
  ctx.now = writer.now();
  // New cases use the newest catalog; a case keeps the version it was submitted under.
  auto version = catalogs.find(state.catalog_version);
  ctx.catalog = create || version == catalogs.end() ? catalogs.rbegin()->second.get()
                                                    : version->second.get();
  ctx.calendar = &district_.calendar;
  ctx.site_id = site_.id;
  ctx.actor_department = actor.system ? "" : actor.department;
  ctx.site_kind = site_.kind;
  ctx.parent_site = site_.parent;
  ctx.site_items = site_.all_items ? nullptr : &site_.items;
  const pb::Applicant* applicant = applicant_of(cmd);
  auto broke = writer.broke_commitment(applicant ? *applicant : state.applicant);
  if (!broke.ok()) return broke.status();
  ctx.applicant_broke_commitment = *broke;

  if (create) {
    const Date today = date_of(ctx.now);
    auto n = writer.next_number("case-" + format_date(today));
    if (!n.ok()) return n.status();
    char num[16];
    std::snprintf(num, sizeof num, "%06lld", static_cast<long long>(*n));
    state.case_id = site_.id + "-" + compact_date(today) + "-" + num;
    state.origin = site_.id;
  }
  auto events = decide(state, cmd, ctx);
  if (!events.ok()) return events.status();
  const std::string actor_name = actor.system ? "system" : actor.username;
  for (pb::CaseEvent& e : *events) {
    if (e.has_license_issued()) {
      const Signature sig = key_.sign(e.license_issued().payload());
      e.mutable_license_issued()->set_signature(sig.data(), sig.size());
    }
    TB_RETURN_IF_ERROR(writer.append(state, state.case_id, e, actor_name, ctx.now));
  }
  return state;
}

namespace {

bool departmental(const Actor& a) {
  return a.role == Role::kReviewer && !a.department.empty() && !a.system;
}

// A departmental reviewer sees the cases their department decides (check_department's
// rule); any other case is as if it did not exist (as for an agent).
bool department_sees(const CaseState& s, const std::string& department) {
  return deciding_departments(s, "").count(department) > 0;
}

}  // namespace

Result<CaseState> CaseService::attach_document(const std::string& case_id,
                                               const DocumentUpload& upload,
                                               const Actor& actor) {
  auto mime = sniff_document(upload.content, upload.declared_type, upload.file_name);
  if (!mime.ok()) return mime.status();
  AttachDocument attach;
  attach.material_code = upload.material_code;
  attach.hash = document_hash(upload.content);
  attach.size = upload.content.size();
  attach.mime = *mime;
  attach.file_name = upload.file_name;
  // The same file again (a retried upload) is the one already attached: no second event.
  auto state = get(case_id, actor);
  if (!state.ok()) return state.status();
  const std::string hex = to_hex(attach.hash);
  for (const CaseDocument& d : state->documents)
    if (d.hash == hex && d.material_code == attach.material_code) return state;
  auto out = run(case_id, attach, actor, false, [&](NodeStore::Writer& w) {
    return w.put_document(case_id, attach.hash, upload.content);
  });
  if (!out.ok()) return out.status();
  return std::move(out->state);
}

Result<CaseService::DocumentFile> CaseService::read_document(const std::string& case_id,
                                                             const std::string& hash_hex,
                                                             const Actor& actor) {
  Hash32 hash{};
  if (!from_hex(hash_hex, hash))
    return Status::NotFound("document_not_found", "该案件没有此材料文件",
                            "the case has no such document");
  auto state = get(case_id, actor);
  if (!state.ok()) return state.status();
  const auto doc = std::find_if(state->documents.begin(), state->documents.end(),
                                [&](const CaseDocument& d) { return d.hash == hash_hex; });
  if (doc == state->documents.end())
    return Status::NotFound("document_not_found", "该案件没有此材料文件",
                            "the case has no such document");
  // Read first, then record the read: a file that is not here yet is not "read".
  auto content = store_.read_document(case_id, hash);
  if (!content.ok()) return content.status();
  auto viewed = run(case_id, ViewDocument{hash}, actor, false);
  if (!viewed.ok()) return viewed.status();
  return DocumentFile{doc->mime, doc->file_name, std::move(*content)};
}

Result<CaseState> CaseService::get(const std::string& case_id, const Actor& actor) {
  if (!valid_case_id(case_id)) return not_found("案件", "case " + case_id);
  auto state = store_.load_case(case_id);
  if (!state.ok()) return state.status();
  if (!is_case(*state) || (actor.role == Role::kAgent && state->agent != actor.username) ||
      (departmental(actor) && !department_sees(*state, actor.department)))
    return not_found("案件", "case " + case_id);
  return state;
}

namespace {

bool ratable(const CaseState& s) {
  return !s.rating && (s.status == CaseStatus::kApproved || s.status == CaseStatus::kDenied ||
                       s.status == CaseStatus::kDelivered || s.status == CaseStatus::kRefused);
}

// The resident's rating is due: the first one, or 追评 once a 差评 was rectified.
bool rating_due(const CaseState& s) { return ratable(s) || (s.rating && s.rating->follow_up_due()); }

Status unknown_ticket() {
  return Status::NotFound("ticket_unknown", "评价码无效或已过期，请向窗口重新索取",
                          "unknown or expired rating ticket");
}

}  // namespace

Result<CaseService::IssuedTicket> CaseService::issue_rating_ticket(const std::string& case_id,
                                                     const Actor& actor, int window) {
  if (actor.role != Role::kClerk && actor.role != Role::kAgent) return forbidden(actor);
  auto s = get(case_id, actor);
  if (!s.ok()) return s.status();
  if (s->rating && !s->rating->follow_up_due())
    return Status::Conflict("already_rated", "该案件已评价", "the case is already rated");
  if (!rating_due(*s))
    return Status::Conflict("not_ratable", "案件办结（或不予受理）后方可评价",
                            "a case is rated once it is decided, refused or delivered");
  IssuedTicket issued{random_token(), store_.now() + kRatingTicketSeconds};
  TB_RETURN_IF_ERROR(store_.add_rating_ticket(
      issued.token, RatingTicket{case_id, actor.username, issued.expires_at, 0, window}));
  return issued;
}

Result<CaseState> CaseService::ticket_case(const std::string& token) {
  if (token.size() != 64) return unknown_ticket();
  auto ticket = store_.rating_ticket(token);
  if (!ticket.ok()) return ticket.status();
  if (!*ticket || (*ticket)->expires_at <= store_.now()) return unknown_ticket();
  return store_.load_case((*ticket)->case_id);
}

Result<CaseState> CaseService::rate_with_ticket(const std::string& token, Rate rate) {
  if (token.size() != 64) return unknown_ticket();
  auto ticket = store_.rating_ticket(token);
  if (!ticket.ok()) return ticket.status();
  if (!*ticket || (*ticket)->expires_at <= store_.now()) return unknown_ticket();
  rate.served_by = (*ticket)->issued_by;
  rate.window = (*ticket)->window;
  // Spent in the rating's own transaction: of two concurrent uses, one rates, one is refused.
  const Actor resident{"resident", Role::kClerk, true, ""};
  auto outcome = run((*ticket)->case_id, rate, resident, false, [&](NodeStore::Writer& w) {
    return w.spend_rating_ticket(token, w.now());
  });
  if (!outcome.ok()) return outcome.status();
  return std::move(outcome->state);
}

void CaseService::scope(CaseQuery& q, const Actor& actor) {
  if (actor.role == Role::kAgent) q.agent = actor.username;
  if (!departmental(actor)) return;
  std::vector<std::string> codes;
  const auto catalog = current_catalog();
  for (const Item& item : catalog->items()) {
    // The rule of deciding_departments, on the catalog: parts_of is the item itself, or a
    // bundle's parts.
    const auto parts = catalog->parts_of(item);
    if (std::any_of(parts.begin(), parts.end(),
                    [&](const Item* p) { return p->department == actor.department; }))
      codes.push_back(item.code);
  }
  q.item_codes = std::move(codes);
}

Result<std::vector<sync::Event>> CaseService::events(const std::string& case_id,
                                                     const Actor& actor) {
  auto state = get(case_id, actor);
  if (!state.ok()) return state.status();
  return store_.case_events(case_id);
}

Result<int> CaseService::sweep() {
  auto due = store_.due_for_sweep(today());
  if (!due.ok()) return due.status();
  int changed = 0;
  const Actor system{"system", Role::kAdmin, true, ""};
  for (const std::string& id : *due) {
    auto outcome = run(id, Sweep{}, system, false);
    if (!outcome.ok()) return outcome.status();
    changed += outcome->appended > 0;
  }
  return changed;
}

}  // namespace tongban::node
