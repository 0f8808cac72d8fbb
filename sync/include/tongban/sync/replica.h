// Replicas of other origins' logs: events received in verified batches are stored
// verbatim, keyed (origin, seq), with the origin's own signature over the head, so the
// receiver's database verifies exactly like the origin's (verify_log).
//
// Thread safety: uses the caller's Db; the caller serializes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/db.h"
#include "tongban/sync/event_log.h"

namespace tongban::sync {

// A chain head as its origin signed it, with the time of that event.
struct SignedChainHead {
  ChainHead head;
  Timestamp ts = 0;
  Signature signature{};
};

class Replica {
 public:
  explicit Replica(Db& db) : db_(db) {}

  // The held head of `origin` (seq 0 and a zero hash when nothing is held).
  Result<ChainHead> head(const std::string& origin);
  // The head of `origin` with the signature stored beside it; nullopt when nothing is held
  // (or the head was stored unsigned).
  Result<std::optional<SignedChainHead>> signed_head(const std::string& origin);
  // The hash of `origin`'s event `seq`; NotFound when it is not held.
  Result<Hash32> hash_at(const std::string& origin, uint64_t seq);
  // Up to `max` events of `origin` from seq `from` on, in order; with `max_bytes`, it
  // stops before the event that would take their wire_size() sum past it (the first
  // event always comes), so a caller sending at most that much reads no more than it sends.
  Result<std::vector<Event>> read(const std::string& origin, uint64_t from, size_t max,
                                  size_t max_bytes = SIZE_MAX);
  // Appends one event to a chain this side originates inside the caller's transaction
  // (e.g. the hub's per-node streams and its own log), signing the new head with `key`.
  // Its Lamport clock exceeds both the chain's and `after` (the newest event it follows).
  Result<Event> extend(const std::string& origin, const std::string& case_id,
                       const std::string& kind, const std::string& actor, Timestamp ts,
                       std::string body, const SigningKey& key, uint64_t after = 0);
  // The same for several events at once, one signature over the last: `drafts` give
  // case_id, kind, actor, ts and body; origin, seq, Lamport and hashes are filled in.
  Status extend_run(const std::string& origin, std::vector<Event>& drafts,
                    const SigningKey& key, uint64_t after = 0);
  // Stores checked `fresh` events and the signature over the last one, inside the
  // caller's transaction.
  Status append(const std::vector<Event>& fresh, const Signature& signature);

 private:
  Db& db_;
};

}  // namespace tongban::sync
