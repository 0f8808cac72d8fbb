// 跨区通办 at the hub: hand-overs, the dispatch rules, and what the hub does about the
// events it stores (a transfer request is dispatched, a returned case goes back, every site
// that holds a moved case hears what happens to it). The reactions run inside the
// projection's transaction with the cursor past their cause, so after a crash of the hub
// either both are there or neither, and the next start projects the cause again.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "tongban/hub/hub_store.h"
#include "tongban/shared/validation.h"
#include "wire.pb.h"

namespace tongban::hub {

namespace {

// Stream events carrying case events are not case events themselves: they never use the
// case's id (events_of_case would fold them).
constexpr const char* kDirectiveStream = "directive";
constexpr size_t kMaxReason = 500;

// An operator's reason: required, up to 500 bytes of clean text (line breaks allowed).
Status check_reason(const std::string& reason, const std::string& zh_field) {
  if (reason.empty())
    return Status::InvalidArgument("missing_field", "请填写" + zh_field, "reason is required");
  return validate_text(reason, zh_field.c_str(), "reason", kMaxReason, true);
}

// An acceptance that grants 容缺 (tolerated materials): only those are checked against the
// district's broken-commitment list (the check replays the case; most acceptances grant none).
bool grants_tolerance(const sync::Event& e) {
  pb::CaseEvent body;
  return body.ParseFromString(e.body) && body.has_accepted() && body.accepted().tolerated_size() > 0;
}

uint64_t newest_lamport(const std::vector<sync::Event>& events) {
  uint64_t n = 0;
  for (const sync::Event& e : events) n = std::max(n, e.lamport);
  return n;
}

}  // namespace

// 跨区通办 (measure 8) moves only items the catalog marks cross_region; an agent point's
// forwarding to its own parent center stays within its jurisdiction and is always allowed.
bool HubStore::may_move_to(const CaseState& s, const std::string& to) const {
  const SiteConfig* receiving = district_.site(s.origin);
  if (receiving && receiving->parent == to) return true;
  const Item* item = district_.catalog.find(s.item_code);
  return item && item->cross_region;
}

Status HubStore::queue_case_events_locked(DirectiveRuns& runs, const std::string& site,
                                          const std::string& case_id,
                                          const std::vector<sync::Event>& events) {
  if (events.empty() || !district_.site(site)) return Status::Ok();
  pb::CaseEvents body;
  body.set_case_id(case_id);
  for (const sync::Event& e : events) *body.add_events() = sync::to_wire(e);
  auto case_key = case_key_for_locked(site, case_id, events);
  if (!case_key.ok()) return case_key.status();
  body.set_case_key(*case_key);
  sync::Event& d = runs[site].emplace_back();
  d.case_id = kDirectiveStream;
  d.kind = "hub.case_events";
  d.actor = "hub";
  d.ts = clock_.now();
  d.body = body.SerializeAsString();
  return Status::Ok();
}

Status HubStore::send_runs_locked(DirectiveRuns& runs) {
  for (auto& [site, run] : runs)
    TB_RETURN_IF_ERROR(extend_run_locked(sync::stream_origin(site), run));
  if (!runs.empty()) streams_extended_ = true;
  return Status::Ok();
}

Status HubStore::send_case_events_locked(const std::string& site, const std::string& case_id,
                                         const std::vector<sync::Event>& events) {
  DirectiveRuns runs;
  TB_RETURN_IF_ERROR(queue_case_events_locked(runs, site, case_id, events));
  return send_runs_locked(runs);
}

const pb::Sealed* HubStore::hub_sealed(const std::vector<sync::Event>& events,
                                       pb::CaseEvent& scratch) {
  for (const sync::Event& e : events) {
    if (!scratch.ParseFromString(e.body)) continue;
    if (scratch.has_sealed() && !scratch.sealed().hub_key().empty()) return &scratch.sealed();
  }
  return nullptr;
}

Result<std::string> HubStore::case_key_for_locked(const std::string& site,
                                                  const std::string& case_id,
                                                  const std::vector<sync::Event>& events) {
  if (!keys_) return std::string();
  std::optional<CurveKey> box;
  if (auto it = box_keys_.find(site); it != box_keys_.end()) {
    box = it->second;
  } else {  // provisioned after the hub started
    auto loaded = load_public_keys(district_.dir, {site}, kBoxKeySuffix);
    if (!loaded.ok()) return loaded.status();
    if (loaded->count(site)) box = box_keys_[site] = loaded->at(site);
  }
  if (!box) return std::string();
  pb::CaseEvent scratch;
  const pb::Sealed* sealed = hub_sealed(events, scratch);
  if (!sealed) return std::string();  // the site has the key from the history it was sent
  auto key = unwrapper_->unwrap(sealed->hub_key(), case_id);
  if (!key.ok()) {  // a site's bad envelope must not stop the hand-over
    spdlog::warn("hub: case {}: its key does not open with the hub's key", case_id);
    return std::string();
  }
  auto& wrapper = wrappers_[site];
  if (!wrapper) wrapper = std::make_unique<KeyWrapper>(*box);
  return wrapper->wrap(*key, case_id);
}

Result<std::vector<sync::Event>> HubStore::append_hub_event_locked(const CaseState& s,
                                                                   const pb::CaseEvent& plain,
                                                                   const std::string& by) {
  auto events = sync::events_of_case(*db_, s.case_id);
  if (!events.ok()) return events.status();
  // The hub seals its own event's personal fields (an operator's reason) under the case key,
  // like any site.
  pb::CaseEvent e = plain;
  pb::CaseEvent scratch;
  if (const pb::Sealed* sealed = keys_ && has_personal(e) ? hub_sealed(*events, scratch) : nullptr) {
    auto key = unwrapper_->unwrap(sealed->hub_key(), s.case_id);
    if (key.ok())
      seal_personal(e, *key, s.case_id, sealed->hub_key());
    else
      spdlog::warn("hub: case {}: its key does not open with the hub's key", s.case_id);
  } else if (has_personal(e)) {
    spdlog::warn("hub: case {}: its key is not readable here; the hub's event is not sealed",
                 s.case_id);
  }
  // The hub's event orders after everything the hub holds of the case (Lamport), so the
  // history with it appended is still in replay order.
  auto appended = extend_locked(district_.hub_id, s.case_id, event_kind(e), by, clock_.now(),
                                  e.SerializeAsString(), key_, newest_lamport(*events));
  if (!appended.ok()) return appended.status();
  events->push_back(std::move(*appended));
  return events;
}

Result<CaseState> HubStore::commit_hub_event_locked(const CaseState& s, const pb::CaseEvent& e,
                                                    const std::string& by,
                                                    const std::set<std::string>& tell,
                                                    const std::string& whole_history_to) {
  auto events = append_hub_event_locked(s, e, by);
  if (!events.ok()) return events.status();
  if (!whole_history_to.empty())
    TB_RETURN_IF_ERROR(send_case_events_locked(whole_history_to, s.case_id, *events));
  for (const std::string& site : tell)
    if (site != whole_history_to)
      TB_RETURN_IF_ERROR(send_case_events_locked(site, s.case_id, {events->back()}));
  std::optional<HubOpener> opener;
  if (keys_) opener.emplace(*unwrapper_);
  auto next = CaseProjector::replay(*events, opener ? &*opener : nullptr);
  if (!next.ok()) return next.status();
  TB_RETURN_IF_ERROR(projector_.index(*next));
  TB_RETURN_IF_ERROR(supervise_locked(*next, false));  // its new state, its next due day
  return next;
}

Result<CaseState> HubStore::existing_case_locked(const std::string& case_id) {
  auto s = case_state_locked(case_id, true);
  if (!s.ok()) return s.status();
  if (!is_case(*s)) return Status::NotFound("not_found", "案件不存在", "case not found");
  return s;
}

Status HubStore::check_target_locked(const CaseState& s, const std::string& to,
                                     const std::string& part) {
  const SiteConfig* site = valid_site_id(to) ? district_.site(to) : nullptr;
  if (!site)
    return Status::InvalidArgument("unknown_site", "目标站点不存在：" + to,
                                   "no such site: " + to);
  if (to == s.owner)
    return Status::Conflict("already_owner", "案件已由该站点办理", "the site already owns the case");
  if (part.empty() && !may_move_to(s, to))
    return Status::Rejected("not_cross_region", "该事项不在跨区通办清单内，不能移交至其他站点",
                            "the item is not eligible for cross-region handling");
  const std::string item_code = part.empty() ? s.item_code : part;
  const auto competent = district_.competent_sites(item_code);
  if (std::none_of(competent.begin(), competent.end(),
                   [&](const SiteConfig* c) { return c->id == to; }))
    return Status::Rejected("not_competent",
                            "站点 " + to + " 不办理该事项或无权作出决定",
                            "site " + to + " does not handle or may not decide " + item_code);
  auto keys = load_public_keys(district_.dir, {to});
  if (!keys.ok()) return keys.status();
  if (!keys->count(to))
    return Status::Rejected("site_revoked", "目标站点未开通或已吊销：" + to,
                            "site " + to + " is not provisioned or was revoked");
  return Status::Ok();
}

Result<std::string> HubStore::choose_target_locked(const CaseState& s,
                                                   const std::string& item_code,
                                                   const std::string& preferred,
                                                   std::string& why) {
  auto keys = load_public_keys(district_.dir, district_.site_ids());
  if (!keys.ok()) return keys.status();
  std::vector<const SiteConfig*> candidates;
  for (const SiteConfig* c : district_.competent_sites(item_code))
    // A bundle's part moves as the bundle says (多地联办); a whole case only if cross_region.
    if (c->id != s.owner && keys->count(c->id) &&
        (item_code != s.item_code || may_move_to(s, c->id)))
      candidates.push_back(c);
  if (candidates.empty())
    return Status::Rejected("no_competent_site", "没有其他可对该事项作出决定的站点",
                            "no other provisioned site may decide " + item_code);
  const auto named = [&](const std::string& id) {
    return std::find_if(candidates.begin(), candidates.end(),
                        [&](const SiteConfig* c) { return c->id == id; }) != candidates.end();
  };
  if (!preferred.empty() && named(preferred)) {
    why = "申请指定的站点有权审批 / the site the request named may decide";
    return preferred;
  }
  if (named(s.origin)) {
    why = "受理站点有权审批 / the receiving site may decide";
    return s.origin;
  }
  // The least loaded: open cases per reviewer; ties go to the receiving site's parent,
  // then to the lower id.
  const SiteConfig* receiving = district_.site(s.origin);
  const std::string parent = receiving ? receiving->parent : "";
  const SiteConfig* best = nullptr;
  double best_load = 0;
  for (const SiteConfig* c : candidates) {
    auto open = projector_.cases().open_cases_of(c->id);
    if (!open.ok()) return open.status();
    const double load = static_cast<double>(*open) / c->reviewers;
    const bool better = !best || load < best_load ||
                        (load == best_load && c->id == parent && best->id != parent) ||
                        (load == best_load && best->id != parent && c->id < best->id);
    if (better) {
      best = c;
      best_load = load;
    }
  }
  char figure[32];
  std::snprintf(figure, sizeof figure, "%.2f", best_load);
  why = std::string("负荷最低：每名审核人员在办 ") + figure + " 件 / least loaded: " + figure +
        " open cases per reviewer";
  return best->id;
}

Status HubStore::hand_over_locked(CaseState& s, const std::string& to, const std::string& reason,
                                  const std::string& mode, const std::string& by,
                                  const std::string& why, const std::string& part) {
  const std::string from = s.owner;
  pb::CaseEvent e;
  auto* h = e.mutable_handed_over();
  h->set_from_site(from);
  h->set_to_site(to);
  h->set_reason(reason);
  h->set_mode(mode);
  h->set_operator_(by);
  h->set_why_target(why);
  h->set_part_item_code(part);
  // The new owner gets everything; the former owner and the receiving site the move.
  auto next = commit_hub_event_locked(s, e, by, {from, s.origin}, to);
  if (!next.ok()) return next.status();
  spdlog::info("hub: case {}{} handed over {} -> {} ({}, by {})", s.case_id,
               part.empty() ? "" : " part " + part, from, to, mode, by);
  s = std::move(*next);
  return Status::Ok();
}

Result<CaseState> HubStore::hand_over(const std::string& case_id, const std::string& to,
                                      const std::string& reason, const std::string& by,
                                      const std::string& part) {
  TB_RETURN_IF_ERROR(check_reason(reason, "移交原因"));
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto s = existing_case_locked(case_id);
  if (!s.ok()) return s.status();
  if (!is_active(s->status))
    return Status::Conflict("case_closed",
                            std::string("案件当前状态为「") + label_zh(s->status) + "」，不能移交",
                            std::string("case is ") + to_string(s->status) + "; it cannot move");
  // The whole case, or (多地联办) one undecided part of the bundle: the same steps, checked
  // against the item that moves.
  if (!part.empty()) {
    const auto p = std::find_if(s->parts.begin(), s->parts.end(),
                                [&](const CasePart& c) { return c.item_code == part; });
    if (p == s->parts.end())
      return Status::InvalidArgument("unknown_part", "该案件没有此子事项：" + part,
                                     "the case has no part " + part);
    if (!p->decision.empty())
      return Status::Conflict("part_decided", "该子事项已作出决定", "that part is already decided");
  }
  std::string target = to, why = "调度员指定 / named by the operator";
  if (target.empty()) {
    auto chosen = choose_target_locked(*s, part.empty() ? s->item_code : part, "", why);
    if (!chosen.ok()) return chosen.status();
    target = *chosen;
  }
  TB_RETURN_IF_ERROR(check_target_locked(*s, target, part));
  const bool placing = part.empty() && s->transfer == Transfer::kRequested;
  TB_RETURN_IF_ERROR(
      hand_over_locked(*s, target, reason, placing ? "dispatch" : "reassign", by, why, part));
  TB_RETURN_IF_ERROR(tx.commit());
  streams_changed();
  return case_state_locked(case_id);  // as the hub shows it: personal fields sealed
}

Result<CaseState> HubStore::resolve_conflict(const std::string& case_id, const std::string& reason,
                                             const std::string& by) {
  TB_RETURN_IF_ERROR(check_reason(reason, "处理意见"));
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto s = existing_case_locked(case_id);
  if (!s.ok()) return s.status();
  if (!s->conflict_open)
    return Status::Conflict("no_conflict", "该案件没有待处理的冲突", "the case has no open conflict");
  pb::CaseEvent e;
  e.mutable_conflict_resolved()->set_reason(reason);
  e.mutable_conflict_resolved()->set_operator_(by);
  std::set<std::string> told = s->conflicted;
  told.insert(s->origin);
  told.insert(s->owner);
  auto next = commit_hub_event_locked(*s, e, by, told);
  if (!next.ok()) return next.status();
  TB_RETURN_IF_ERROR(tx.commit());
  streams_changed();
  spdlog::info("hub: conflict on case {} resolved by {}", case_id, by);
  return case_state_locked(case_id);  // as the hub shows it: personal fields sealed
}

Status HubStore::react_locked(const std::vector<const std::vector<sync::Event>*>& runs,
                              const std::map<std::string, CaseState>& moved) {
  // Events of moved cases travel to the other sites that hold the case: its receiving site
  // and its owner (a former owner's offline work reaches the new owner this way).
  std::map<std::pair<std::string, std::string>, std::vector<sync::Event>> follow;
  std::set<std::string> triggered;
  std::map<std::string, std::string> broken;  // case -> site where it was terminated
  std::map<std::string, std::string> accepted;  // case -> site that accepted it
  std::vector<const sync::Event*> answers;      // to rectification orders
  for (const auto* run : runs) {
    for (const sync::Event& e : *run) {
      if (e.kind == "case.rectification_answered") answers.push_back(&e);
      if (e.kind == "case.transfer_requested" || e.kind == "case.returned")
        triggered.insert(e.case_id);
      if (e.kind == "case.terminated") broken.emplace(e.case_id, e.origin);
      if (e.kind == "case.accepted" && grants_tolerance(e)) accepted.emplace(e.case_id, e.origin);
      auto m = moved.find(e.case_id);
      if (m == moved.end()) continue;
      std::set<std::string> sites = {m->second.origin, m->second.owner};
      for (const CasePart& p : m->second.parts)
        if (!p.site.empty()) sites.insert(p.site);
      for (const std::string& site : sites)
        if (site != e.origin) follow[{site, e.case_id}].push_back(e);
    }
  }
  // Each site's directives of the run go on its stream together, under one signature.
  DirectiveRuns directives;
  for (auto& [to, events] : follow) {
    auto last = std::unique(events.begin(), events.end(),
                            [](const sync::Event& a, const sync::Event& b) {
                              return a.origin == b.origin && a.seq == b.seq;
                            });
    events.erase(last, events.end());
    TB_RETURN_IF_ERROR(queue_case_events_locked(directives, to.first, to.second, events));
  }
  TB_RETURN_IF_ERROR(send_runs_locked(directives));
  // District-wide list: a broken 容缺 commitment bars the applicant at every site.
  for (const auto& [case_id, site] : broken) {
    auto s = case_state_locked(case_id);
    if (!s.ok()) return s.status();
    if (!s->broke_commitment) continue;
    pb::BrokenCommitment entry;
    entry.set_applicant_id(applicant_key(s->applicant));
    entry.set_case_id(case_id);
    entry.set_site(site);
    const std::string body = entry.SerializeAsString();
      for (const SiteConfig& other : district_.sites) {
      if (other.id == site) continue;
      auto e = extend_locked(sync::stream_origin(other.id), kDirectiveStream,
                               "hub.broken_commitment", "hub", clock_.now(), body, key_);
      if (!e.ok()) return e.status();
      streams_extended_ = true;
    }
  }
  // A site offline on the district's list may grant 容缺 to someone barred elsewhere: the
  // hub flags it when the acceptance arrives (the list says why; the case stands).
  for (const auto& [case_id, site] : accepted) {
    auto s = case_state_locked(case_id);
    if (!s.ok()) return s.status();
    const std::string who = applicant_key(s->applicant);
    if (s->tolerated.empty() || who.empty()) continue;
    // Barred by another case: this one's own termination, stored in the same run, does not
    // count against the acceptance that came before it.
    auto barred = projector_.cases().broken_by(who);
    if (!barred.ok()) return barred.status();
    if (barred->empty() || *barred == case_id) continue;
    auto flag = db_->cached(
        "INSERT OR IGNORE INTO tolerance_breaches(case_id, site, applicant_id, ts) VALUES(?1,?2,?3,?4)");
    if (!flag.ok()) return flag.status();
    TB_RETURN_IF_ERROR(flag->bind(1, case_id).bind(2, site).bind(3, who).bind(4, clock_.now()).run());
    spdlog::warn("hub: case {} at {} was granted 容缺 though the applicant broke a commitment "
                 "elsewhere", case_id, site);
  }
  TB_RETURN_IF_ERROR(record_answers_locked(answers));
  for (const std::string& case_id : triggered) {
    auto s = case_state_locked(case_id, true);
    if (!s.ok()) return s.status();
    if (!is_case(*s) || !is_active(s->status)) continue;
    // 多地联办: each part the owner may not decide goes to a site that may.
    // By value: each hand-over replaces *s.
    const std::vector<CasePart> parts = s->parts;
    for (const CasePart& part : parts) {
      if (!part.requested || !part.site.empty() || !part.decision.empty()) continue;
      std::string why;
      auto target = choose_target_locked(*s, part.item_code, "", why);
      if (!target.ok()) {
        spdlog::warn("hub: case {} part {} asks to move but {}", case_id, part.item_code,
                     target.status().message_en());
        continue;
      }
      TB_RETURN_IF_ERROR(hand_over_locked(*s, *target, "一件事多地联办 / bundle part decided elsewhere",
                                          "dispatch", "dispatch", why, part.item_code));
    }
    if (s->transfer == Transfer::kRequested) {
      std::string why;
      auto target = choose_target_locked(*s, s->item_code, s->transfer_to, why);
      if (!target.ok()) {  // stays unassigned on the operators' queue
        spdlog::warn("hub: case {} asks to move but {}", case_id, target.status().message_en());
        continue;
      }
      const SiteConfig* receiving = district_.site(s->origin);
      const bool forward = s->moves.empty() && receiving &&
                           receiving->kind == SiteKind::kAgentPoint;
      TB_RETURN_IF_ERROR(hand_over_locked(*s, *target, s->transfer_reason,
                                          forward ? "forward" : "dispatch", "dispatch", why));
    } else if (s->transfer == Transfer::kReturned) {
      // The target returned it: back to the former owner; operators see it as returned.
      const auto last = std::find_if(s->moves.rbegin(), s->moves.rend(),
                                     [](const OwnershipMove& m) { return m.part.empty(); });
      if (last == s->moves.rend() || last->to != s->owner || last->mode == "return") continue;
      const std::string back_to = last->from;
      TB_RETURN_IF_ERROR(hand_over_locked(*s, back_to, s->transfer_reason, "return", "dispatch",
                                          "退回原办理站点 / back to the former owner"));
    }
  }
  return Status::Ok();
}

}  // namespace tongban::hub
