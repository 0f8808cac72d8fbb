// Batches: a contiguous run of one origin's events with one Ed25519 signature over its
// chain head (per-event signatures cost too much). Building one, and checking one against
// what the receiver already holds for that origin.
//
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/crypto.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/replica.h"
#include "tongban/sync/transport.h"
#include "wire.pb.h"

namespace tongban::sync {

pb::WireEvent to_wire(const Event& e);
// False when a hash field is not 32 bytes.
bool from_wire(const pb::WireEvent& w, Event& out);

// `events` must be non-empty, contiguous and of one origin.
pb::Batch make_batch(const std::vector<Event>& events, const SigningKey& key);

pb::SignedHead to_wire(const SignedChainHead& head);
// A peer's claim about its newest event, once its signature verified.
struct HeadClaim {
  uint64_t seq = 0;
  Hash32 hash{};
  Timestamp ts = 0;
};
// The claim when `head` is well-formed and signed by `origin_key` for `origin`.
std::optional<HeadClaim> verify_head(const pb::SignedHead& head, const std::string& origin,
                                     const PublicKey& origin_key);

// The verdict on a received batch.
struct BatchCheck {
  pb::Error::Code error = pb::Error::UNKNOWN;  // UNKNOWN = accepted
  std::string message;
  uint64_t expected_seq = 0;  // for GAP
  std::vector<Event> fresh;   // events beyond `have`, verified; empty for a replay
  Signature signature{};

  bool ok() const { return error == pb::Error::UNKNOWN; }
};

// A checked batch on its way to storage: the fresh events, and the head the site
// advertised with them.
struct StoreRun {
  std::string site;
  BatchCheck check;
  uint64_t head_seq = 0;
  int64_t head_ts = 0;
};

// The hash the receiver holds for one seq of the batch's origin (seq <= have.seq).
using HeldHash = std::function<Result<Hash32>(uint64_t seq)>;

// Accepts a batch whose events continue `have`, whose hashes and links recompute, and whose
// signature verifies with `origin_key`. An event at a seq already held is a duplicate only
// when its hash equals the held one (`held_hash`); otherwise the batch is a FORK naming
// that seq in expected_seq, and nothing of it is accepted.
BatchCheck check_batch(const pb::Batch& batch, const ChainHead& have, const PublicKey& origin_key,
                       const HeldHash& held_hash);

}  // namespace tongban::sync
