// The log's signed head kept outside the database, in a small file beside it, so that an
// edit of the events table — a wiped log, an old copy of the database file put back, an
// event rewritten with its hashes recomputed — cannot drop it silently. The file holds one
// line: "tongban-head-v1 <origin> <seq> <hash hex> <signature hex>", the signature being the
// same Ed25519 signature over chain_head_message() that the chain_head row carries.
//
// It is rewritten after every commit (a temporary file renamed over it) without an fsync:
// after a power loss it may lag the database, never lead it, and a file cut short by the
// crash reads as absent (the caller then verifies the whole chain once).
//
// Thread safety: free functions; callers serialize writes to one file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "tongban/shared/crypto.h"
#include "tongban/shared/status.h"
#include "tongban/sync/event_log.h"

namespace tongban::sync {

Status write_head_witness(const std::filesystem::path& file, const std::string& origin,
                          const ChainHead& head, const SigningKey& key);

// The witnessed head (lamport 0: it is not witnessed). Nullopt when the file is absent or
// unreadable as a whole line; Corruption when it names another origin or its signature
// does not verify with `key` (the file was forged or altered).
Result<std::optional<ChainHead>> read_head_witness(const std::filesystem::path& file,
                                                   const std::string& origin,
                                                   const PublicKey& key);

}  // namespace tongban::sync
