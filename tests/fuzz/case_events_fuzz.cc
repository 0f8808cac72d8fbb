// The body of a `hub.case_events` stream event as a node decodes it (跨区通办: the history
// of a case handed to this site), then folded through evolve and rendered as the node's
// API would. The stream run is signed by the hub, so only a hub key reaches this; the
// target makes sure that even then no body crashes a node.
#include "fuzz_target.h"
#include "tongban/node/node_sync.h"
#include "tongban/shared/case_json.h"
#include "tongban/shared/config.h"
#include "tongban/shared/projector.h"
#include "tongban/sync/batch.h"
#include "wire.pb.h"

using namespace tongban;

namespace {

const District& district() {
  static const District d = [] {
    auto loaded = load_district(TONGBAN_SITE_CONFIG_DIR);
    return loaded.ok() ? std::move(*loaded) : District{};
  }();
  return d;
}

sync::Event stream_event(std::string body) {
  sync::Event e;
  e.origin = "HUB>S02";
  e.seq = 1;
  e.kind = "hub.case_events";
  e.case_id = "directive";
  e.body = std::move(body);
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto delivered = node::parse_case_events(
      stream_event(std::string(reinterpret_cast<const char*>(data), size)), district(), "S02");
  if (!delivered.ok()) return 0;
  CaseState state;
  for (const sync::Event& e : delivered->events) (void)CaseProjector::fold(state, e);
  (void)case_to_json(state, Date{20000}, district().calendar, 2);
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  // A case accepted at S01 and handed to S02 by the hub, as the hub streams it.
  pb::CaseEvents out;
  out.set_case_id("S01-20261127-000001");
  Hash32 prev{};
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    pb::CaseEvent body;
    sync::Event e;
    e.origin = seq == 3 ? "HUB" : "S01";
    e.seq = seq == 3 ? 1 : seq;
    if (seq == 1) {
      auto* s = body.mutable_submitted();
      s->set_item_code("MZ002");
      s->mutable_applicant()->set_name("张三");
      s->mutable_applicant()->set_id_number("11010519491231002X");
    } else if (seq == 2) {
      body.mutable_accepted()->set_accepted_date(20419);
    } else {
      auto* h = body.mutable_handed_over();
      h->set_from_site("S01");
      h->set_to_site("S02");
      h->set_mode("reassign");
    }
    e.lamport = seq;
    e.case_id = out.case_id();
    e.kind = event_kind(body);
    e.actor = "clerk";
    e.ts = 1796000000 + static_cast<int64_t>(seq);
    e.body = body.SerializeAsString();
    e.prev_hash = e.origin == "HUB" ? Hash32{} : prev;
    e.hash = sync::compute_event_hash(e);
    if (e.origin == "S01") prev = e.hash;
    *out.add_events() = sync::to_wire(e);
  }
  return {out.SerializeAsString()};
}
