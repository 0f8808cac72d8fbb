#include "tongban/shared/projector.h"

namespace tongban {

bool is_case(const CaseState& s) { return s.exists() && !s.item_code.empty(); }

Status evolve_serialized(CaseState& s, const std::string& body, const EventMeta& meta,
                         EventOpener* opener) {
  pb::CaseEvent e;
  if (!e.ParseFromString(body))
    return Status::Corruption("event body does not parse (case " + meta.case_id + ")");
  if (opener) TB_RETURN_IF_ERROR(opener->open(e, meta.case_id));
  evolve(s, e, meta);
  return Status::Ok();
}

Status CaseProjector::apply(CaseState& state, const pb::CaseEvent& event, const EventMeta& meta) {
  evolve(state, event, meta);
  return index(state);
}

Status CaseProjector::index(const CaseState& state) {
  if (!is_case(state)) return Status::Ok();
  return index_.upsert(state, district_);
}

}  // namespace tongban
