// A frame from the network as the hub (or a node) decodes it: the envelope, a batch through
// the whole check against a held chain, deliveries, and every event body folded through
// evolve and rendered, as the hub's projector and API would do for a site's events.
#include "fuzz_target.h"
#include "tongban/shared/case_json.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/projector.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/transport.h"

using namespace tongban;

namespace {

const SigningKey& site_key() { return fuzz_key(); }

void check_and_fold(const pb::Batch& batch) {
  sync::ChainHead held;
  held.seq = 1;
  const sync::HeldHash held_hash = [](uint64_t) -> Result<Hash32> { return Hash32{}; };
  const sync::BatchCheck check = sync::check_batch(batch, held, site_key().public_key(), held_hash);
  (void)check;
  CaseState state;
  WorkCalendar calendar;
  for (const pb::WireEvent& w : batch.events()) {
    sync::Event e;
    if (!sync::from_wire(w, e)) continue;
    (void)CaseProjector::fold(state, e);
  }
  (void)case_to_json(state, Date{20000}, calendar, 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zmq::message_t frame(data, size);
  const auto env = sync::decode(frame);
  if (!env) return 0;
  const PublicKey key = site_key().public_key();
  if (env->has_batch()) {
    check_and_fold(env->batch());
    (void)sync::verify_head(env->batch().origin_head(), "S01", key);
  }
  if (env->has_delivery()) check_and_fold(env->delivery().batch());
  if (env->has_hello()) (void)sync::verify_head(env->hello().head(), "S01", key);
  if (env->has_heartbeat()) (void)sync::verify_head(env->heartbeat().head(), "S01", key);
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  std::vector<std::string> out;
  std::vector<sync::Event> events;
  Hash32 prev{};
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    pb::CaseEvent body;
    if (seq == 1) {
      auto* s = body.mutable_submitted();
      s->set_item_code("RS001");
      s->mutable_applicant()->set_name("张三");
      s->mutable_applicant()->set_id_number("11010519491231002X");
    } else {
      body.mutable_accepted();
    }
    sync::Event e;
    e.origin = "S01";
    e.seq = seq;
    e.lamport = seq;
    e.case_id = "S01-20261127-000001";
    e.kind = event_kind(body);
    e.actor = "clerk";
    e.ts = 1796000000;
    e.body = body.SerializeAsString();
    e.prev_hash = prev;
    e.hash = sync::compute_event_hash(e);
    prev = e.hash;
    events.push_back(e);
  }
  pb::Envelope batch;
  *batch.mutable_batch() = sync::make_batch(events, site_key());
  sync::SignedChainHead head;
  head.head = sync::ChainHead{3, 3, events.back().hash};
  head.ts = events.back().ts;
  head.signature = site_key().sign(sync::chain_head_message("S01", head.head));
  *batch.mutable_batch()->mutable_origin_head() = sync::to_wire(head);
  const zmq::message_t m = sync::encode(batch);
  out.emplace_back(static_cast<const char*>(m.data()), m.size());
  pb::Envelope hello;
  hello.mutable_hello()->set_site("S01");
  *hello.mutable_hello()->mutable_head() = sync::to_wire(head);
  const zmq::message_t h = sync::encode(hello);
  out.emplace_back(static_cast<const char*>(h.data()), h.size());
  pb::Envelope beat;
  *beat.mutable_heartbeat()->mutable_head() = sync::to_wire(head);
  const zmq::message_t hb = sync::encode(beat);
  out.emplace_back(static_cast<const char*>(hb.data()), hb.size());
  return out;
}
