#include "tongban/sync/batch.h"

#include <cstring>

namespace tongban::sync {

pb::WireEvent to_wire(const Event& e) {
  pb::WireEvent w;
  w.set_origin(e.origin);
  w.set_seq(e.seq);
  w.set_lamport(e.lamport);
  w.set_case_id(e.case_id);
  w.set_kind(e.kind);
  w.set_actor(e.actor);
  w.set_ts(e.ts);
  w.set_body(e.body);
  w.set_prev_hash(e.prev_hash.data(), e.prev_hash.size());
  w.set_hash(e.hash.data(), e.hash.size());
  return w;
}

bool from_wire(const pb::WireEvent& w, Event& e) {
  if (w.prev_hash().size() != 32 || w.hash().size() != 32) return false;
  e.origin = w.origin();
  e.seq = w.seq();
  e.lamport = w.lamport();
  e.case_id = w.case_id();
  e.kind = w.kind();
  e.actor = w.actor();
  e.ts = w.ts();
  e.body = w.body();
  std::memcpy(e.prev_hash.data(), w.prev_hash().data(), 32);
  std::memcpy(e.hash.data(), w.hash().data(), 32);
  return true;
}

pb::Batch make_batch(const std::vector<Event>& events, const SigningKey& key) {
  pb::Batch b;
  b.set_origin(events.front().origin);
  for (const Event& e : events) *b.add_events() = to_wire(e);
  const Event& last = events.back();
  const Signature sig =
      key.sign(chain_head_message(last.origin, ChainHead{last.seq, last.lamport, last.hash}));
  b.set_signature(sig.data(), sig.size());
  return b;
}

pb::SignedHead to_wire(const SignedChainHead& head) {
  pb::SignedHead w;
  w.set_seq(head.head.seq);
  w.set_hash(head.head.hash.data(), head.head.hash.size());
  w.set_ts(head.ts);
  w.set_signature(head.signature.data(), head.signature.size());
  return w;
}

std::optional<HeadClaim> verify_head(const pb::SignedHead& head, const std::string& origin,
                                     const PublicKey& origin_key) {
  if (head.seq() == 0 || head.hash().size() != 32 || head.signature().size() != 64)
    return std::nullopt;
  HeadClaim c;
  c.seq = head.seq();
  std::memcpy(c.hash.data(), head.hash().data(), 32);
  c.ts = head.ts();
  Signature sig;
  std::memcpy(sig.data(), head.signature().data(), 64);
  // chain_head_message covers seq and hash only; lamport is not part of it.
  if (!verify_signature(origin_key, chain_head_message(origin, ChainHead{c.seq, 0, c.hash}), sig))
    return std::nullopt;
  return c;
}

namespace {
BatchCheck reject(pb::Error::Code code, std::string message) {
  BatchCheck c;
  c.error = code;
  c.message = std::move(message);
  return c;
}
}  // namespace

BatchCheck check_batch(const pb::Batch& batch, const ChainHead& have, const PublicKey& origin_key,
                       const HeldHash& held_hash) {
  if (batch.events_size() == 0) return reject(pb::Error::MALFORMED, "empty batch");
  if (batch.signature().size() != 64) return reject(pb::Error::MALFORMED, "signature size");
  BatchCheck c;
  std::memcpy(c.signature.data(), batch.signature().data(), 64);
  Event e;
  uint64_t prev_seq = 0;
  for (const pb::WireEvent& w : batch.events()) {
    if (!from_wire(w, e)) return reject(pb::Error::MALFORMED, "hash size");
    if (e.origin != batch.origin()) return reject(pb::Error::WRONG_ORIGIN, "mixed origins");
    if (prev_seq && e.seq != prev_seq + 1) return reject(pb::Error::MALFORMED, "not contiguous");
    prev_seq = e.seq;
    if (compute_event_hash(e) != e.hash)
      return reject(pb::Error::BROKEN_CHAIN, "event " + std::to_string(e.seq) + " hash mismatch");
    if (e.seq <= have.seq) {  // already held: a duplicate, or a fork
      Result<Hash32> held = e.seq == have.seq ? Result<Hash32>(have.hash) : held_hash(e.seq);
      if (!held.ok()) return reject(pb::Error::UNAVAILABLE, "storage");
      if (*held == e.hash) continue;
      BatchCheck fork = reject(pb::Error::FORK, "event " + std::to_string(e.seq) +
                                                    " differs from the one already held");
      fork.expected_seq = e.seq;
      return fork;
    }
    const Hash32& expected_prev = c.fresh.empty() ? have.hash : c.fresh.back().hash;
    if (c.fresh.empty() && e.seq != have.seq + 1) {
      BatchCheck gap = reject(pb::Error::GAP, "batch starts after a gap");
      gap.expected_seq = have.seq + 1;
      return gap;
    }
    if (e.prev_hash != expected_prev)
      return reject(pb::Error::BROKEN_CHAIN,
                    "event " + std::to_string(e.seq) + " does not follow the held chain");
    c.fresh.push_back(std::move(e));  // from_wire refills every field next round
  }
  if (c.fresh.empty()) return c;  // a replay: nothing new, nothing to check further
  // The signature covers the batch's last event, which the hash links tie to every other.
  const pb::WireEvent& last = batch.events(batch.events_size() - 1);
  Event tail;
  from_wire(last, tail);
  if (!verify_signature(
          origin_key,
          chain_head_message(batch.origin(), ChainHead{tail.seq, tail.lamport, tail.hash}),
          c.signature))
    return reject(pb::Error::BAD_SIGNATURE, "batch signature does not verify");
  return c;
}

}  // namespace tongban::sync
