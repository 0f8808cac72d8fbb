// The log's signed head kept outside the database, in a small file beside it, so that an
// edit of the events table — a wiped log, an old copy of the database file put back, an
// event rewritten with its hashes recomputed — cannot drop it silently.
//
// The file has two 256-byte slots, written alternately in place (by seq parity) after
// every commit, without an fsync: a commit pays one small pwrite, not a file creation and
// a rename. Each slot holds one line, "tongban-head-v1 <origin> <seq> <hash hex>
// <signature hex>", padded with spaces; the signature is the same Ed25519 signature over
// chain_head_message() that the chain_head row carries. After a power loss the witness
// may lag the database, never lead it; a slot torn by a crash is ignored (the other one
// still stands), and with no valid slot the caller verifies the whole chain once.
//
// Thread safety: a HeadWitness is used by one thread at a time (its owner serializes).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "tongban/shared/crypto.h"
#include "tongban/shared/status.h"
#include "tongban/sync/event_log.h"

namespace tongban::sync {

class HeadWitness {
 public:
  // Opens (creating, mode 0600) the witness file.
  static Result<HeadWitness> open(const std::filesystem::path& file);
  HeadWitness(HeadWitness&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  HeadWitness& operator=(HeadWitness&&) = delete;
  HeadWitness(const HeadWitness&) = delete;
  ~HeadWitness();

  // Records `head` of `origin` with `signature` (over chain_head_message(origin, head)).
  Status write(const std::string& origin, const ChainHead& head, const Signature& signature);

 private:
  explicit HeadWitness(int fd) : fd_(fd) {}
  int fd_;
};

// The newest validly signed head in the file (lamport 0: not witnessed). Nullopt when the
// file is absent or empty, or when its only written slot is not valid (a first write torn
// by a crash). Corruption when both slots are written and neither parses, names `origin`
// and verifies with `key`: no crash does that; an edit does.
Result<std::optional<ChainHead>> read_head_witness(const std::filesystem::path& file,
                                                   const std::string& origin,
                                                   const PublicKey& key);

}  // namespace tongban::sync
