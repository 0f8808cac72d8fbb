// The one projection of case events. Every place that turns events into the case index —
// the node's commit, the node's rebuild, the hub's ingest and the tests — goes through a
// CaseProjector, so "the node and the hub converge by construction" holds in code, not
// only on paper. It also holds, once, the rule of what counts as a case: an appointment's
// events fold to a state with no item, and such a state never gets an index row.
//
// Events are read through five members every stored event type has (`case_id`, `origin`,
// `ts`, `actor`, `body` holding a serialized pb::CaseEvent), so shared/ needs nothing from
// sync/.
//
// Thread safety: not thread-safe; the store that owns the Db serializes every call.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "tongban/shared/case.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/config.h"
#include "tongban/shared/db.h"
#include "tongban/shared/personal.h"

namespace tongban {

// A case exists once it is created and names its item; appointments are not cases.
bool is_case(const CaseState& s);

// Parses a serialized pb::CaseEvent, opens its personal part with `opener` (null: folded
// with those fields empty) and applies it to `s`; Corruption when it does not parse or
// does not open.
Status evolve_serialized(CaseState& s, const std::string& body, const EventMeta& meta,
                         EventOpener* opener = nullptr);

class CaseProjector {
 public:
  // `db` holds CaseIndex::schema(); the references (and `keys`, a node's keyring sealing
  // the index's names; null at the hub) must outlive the projector.
  CaseProjector(Db& db, const District& district, const Keyring* keys = nullptr)
      : index_(db, keys), district_(district) {}

  CaseIndex& cases() { return index_; }

  // Applies one event to `state`, then writes the case's index row.
  Status apply(CaseState& state, const pb::CaseEvent& event, const EventMeta& meta);
  // Writes the index row of a folded state; nothing for a state that is not a case.
  Status index(const CaseState& state);
  // Drops every row (a rebuild projects every event again).
  Status clear() { return index_.clear(); }

  // Applies one stored event to `state` without writing; Corruption when the body does
  // not parse.
  template <class Event>
  static Status fold(CaseState& state, const Event& e, EventOpener* opener = nullptr) {
    return evolve_serialized(state, e.body, EventMeta{e.case_id, e.origin, e.ts, e.actor},
                             opener);
  }
  // Folds `events` into `s` (Lamport order), in place.
  template <class Events>
  static Status replay_into(CaseState& s, const Events& events, EventOpener* opener = nullptr) {
    for (const auto& e : events) TB_RETURN_IF_ERROR(fold(s, e, opener));
    return Status::Ok();
  }
  // The state of one case from its events (Lamport order); kNone when there are none.
  template <class Events>
  static Result<CaseState> replay(const Events& events, EventOpener* opener = nullptr) {
    CaseState s;
    TB_RETURN_IF_ERROR(replay_into(s, events, opener));
    return s;
  }
  // Projects `run`, a set of events just stored (any origins, each origin in order).
  // A case the run creates is folded from the run alone; a case with history is replayed
  // in full through `load(case_id, CaseState& fresh) -> Status`, which reads the store
  // after the run was written into a default state. Once every case of the run is indexed,
  // each one's new state is shown to `observe(CaseState& state, created) -> Status`
  // (`created`: the run made the case); the observer may move from the state, which is
  // dropped after. (A state is large: it is built in place and never copied here.)
  template <class Events, class Load, class Observe>
  Status project_stored(const Events& run, Load&& load, Observe&& observe);

 private:
  CaseIndex index_;
  const District& district_;
};

template <class Events, class Load, class Observe>
Status CaseProjector::project_stored(const Events& run, Load&& load, Observe&& observe) {
  std::map<std::string, CaseState> created;
  std::set<std::string> with_history;
  for (const auto& e : run) {
    if (with_history.count(e.case_id)) continue;
    auto it = created.find(e.case_id);
    if (it == created.end()) {
      auto known = index_.contains(e.case_id);
      if (!known.ok()) return known.status();
      const bool creates = e.kind == "case.submitted" || e.kind == "case.prereview_started";
      if (*known || !creates) {
        with_history.insert(e.case_id);
        continue;
      }
      it = created.emplace(e.case_id, CaseState{}).first;
    }
    TB_RETURN_IF_ERROR(fold(it->second, e));
  }
  for (const auto& [id, s] : created) TB_RETURN_IF_ERROR(index(s));
  std::vector<CaseState> loaded;
  loaded.reserve(with_history.size());  // never reallocated: each state is filled in place
  for (const std::string& id : with_history) {
    CaseState& s = loaded.emplace_back();
    TB_RETURN_IF_ERROR(load(id, s));
    TB_RETURN_IF_ERROR(index(s));
  }
  // Observed once the whole run is indexed (an observer may read other cases of the run).
  for (auto& [id, s] : created) TB_RETURN_IF_ERROR(observe(s, true));
  for (CaseState& s : loaded) TB_RETURN_IF_ERROR(observe(s, false));
  return Status::Ok();
}

}  // namespace tongban
