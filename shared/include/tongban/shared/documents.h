// 电子材料: the files attached to a case's material entries, and how a store keeps them.
//
// A file is named by its content: BLAKE2b-256 of its bytes, recorded in the case's signed
// DocumentAttached event, so the origin's chain covers it. The bytes are kept sealed in
// chunks of kDocChunkBytes, each XChaCha20-Poly1305 under the case key (the key that seals
// the case's personal fields) with the case id, the hash and the chunk's index as
// associated data: a chunk cannot be moved to another place, document or case. The sealed
// chunks are what travels (node -> hub -> a new owner) and what every store holds, so a
// stolen disk, a hub and the wire see only ciphertext; the one who holds the case key
// checks every chunk and, once all are in, the hash of the whole.
//
// DocumentStore keeps them in two tables of the store's own Db: one row per document a
// case's events name (whether its chunks are here yet), and the chunks, received as a
// prefix in order (a transfer resumes at the first chunk not held).
//
// Thread safety: not thread-safe; the store that owns the Db serializes every call.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events.pb.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"

namespace tongban {

constexpr size_t kDocChunkBytes = size_t{1} << 20;     // plaintext per chunk (the last: less)
constexpr size_t kMaxDocumentBytes = size_t{20} << 20;  // 20 MiB per file
constexpr size_t kSealedChunkOverhead = 40;             // nonce 24 + tag 16

// The type of a file by its content: application/pdf, image/jpeg or image/png.
// `declared` (a Content-Type, "" or application/octet-stream: none) and `file_name`'s
// extension ("" none) must agree with it. InvalidArgument: document_empty,
// document_too_large, document_type_unsupported (none of the three, or truncated),
// document_type_mismatch (the file says it is something else), zh/en.
Result<std::string> sniff_document(std::string_view content, std::string_view declared,
                                   std::string_view file_name);

Hash32 document_hash(std::string_view content);
uint32_t doc_chunk_count(uint64_t size);
// The plaintext length of chunk `index` of a file of `size` bytes.
size_t doc_chunk_plain_bytes(uint64_t size, uint32_t index);
std::string seal_doc_chunk(const SecretKey& case_key, std::string_view case_id,
                           const Hash32& hash, uint32_t index, std::string_view plain);
// Corruption when it does not open with this key in this place.
Result<std::string> open_doc_chunk(const SecretKey& case_key, std::string_view case_id,
                                   const Hash32& hash, uint32_t index, std::string_view sealed);
// A whole file sealed into its chunks.
std::vector<std::string> seal_document(const SecretKey& case_key, std::string_view case_id,
                                       const Hash32& hash, std::string_view content);

struct StoredDocument {
  enum class State { kFetching = 0, kComplete = 1, kRejected = 2 };
  std::string case_id;
  Hash32 hash{};
  std::string material_code, mime;
  uint64_t size = 0;
  std::string source;  // the site that attached it (where the hub fetches it)
  uint32_t chunks = 0, have = 0;
  State state = State::kFetching;
};
const char* to_string(StoredDocument::State s);

class DocumentStore {
 public:
  // The tables, for the owner's migrations.
  static const std::string& schema();

  explicit DocumentStore(Db& db) : db_(db) {}

  // Records the document a stored DocumentAttached names (attached at `source`), to be
  // fetched unless held; nothing for any other event. Idempotent.
  Status note(const std::string& case_id, const std::string& source, const pb::CaseEvent& e);
  // The same from a stored event's kind and serialized body (parsed only for an attach).
  Status note_stored(const std::string& case_id, const std::string& source,
                     const std::string& kind, const std::string& body);

  // Stores every sealed chunk of a noted document at once (the window's upload).
  Status put_all(const std::string& case_id, const Hash32& hash,
                 const std::vector<std::string>& sealed);
  // Stores the next chunk of a document being fetched. `key` (the case key; null when the
  // store cannot read the case) checks the chunk, and once the last is in, the hash of the
  // whole: when that does not match, every chunk is dropped and the document is marked
  // rejected (kRejected: commit it, so it is not fetched again). InvalidArgument, nothing
  // written: chunk_out_of_order (not the next one), chunk_size, chunk_does_not_open;
  // NotFound when no event names it. A chunk of a complete document is a kDuplicate.
  enum class Put { kStored, kComplete, kDuplicate, kRejected };
  Result<Put> put_chunk(const std::string& case_id, const Hash32& hash, uint32_t index,
                        const std::string& sealed, const SecretKey* key);
  // The caller's transaction around put_chunk did not commit: the running hash is dropped
  // (the whole is read back when the last chunk is in).
  void forget_progress(const std::string& case_id, const Hash32& hash);
  // Not to be asked for again before `until` (its source does not hold it yet).
  Status defer(const std::string& case_id, const Hash32& hash, Timestamp until);

  Result<std::optional<StoredDocument>> get(const std::string& case_id, const Hash32& hash);
  Result<std::vector<StoredDocument>> of_case(const std::string& case_id);
  // Documents still to fetch from `source` ("" any source) that are not deferred past
  // `now`, at most `max`.
  Result<std::vector<StoredDocument>> wanted(const std::string& source, Timestamp now,
                                             size_t max);
  // A sealed chunk held (a prefix of an incomplete one counts), or nullopt.
  Result<std::optional<std::string>> chunk(const std::string& case_id, const Hash32& hash,
                                           uint32_t index);
  // The whole file, every chunk opened with `key` and the hash checked; NotFound
  // (document_not_here, zh/en) while it is not complete; Corruption when it does not check.
  Result<std::string> read(const std::string& case_id, const Hash32& hash,
                           const SecretKey& key);

 private:
  Status set_progress(const std::string& case_id, const Hash32& hash, uint32_t have,
                      StoredDocument::State state);
  Db& db_;
  // The hash of each document being fetched so far, from chunk 0 on, in memory: the last
  // chunk then checks the whole without reading it back (after a restart, it is read back).
  struct Partial {
    Hasher hasher;
    uint32_t next = 0;
  };
  std::map<std::pair<std::string, Hash32>, Partial> partial_;
};

}  // namespace tongban
