#include "tongban/sync/replica.h"

#include <algorithm>
#include <cstring>

namespace tongban::sync {

Result<ChainHead> Replica::head(const std::string& origin) {
  auto stmt = db_.cached("SELECT seq, lamport, hash FROM chain_head WHERE origin=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, origin);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  ChainHead h;
  if (!*row) return h;
  h.seq = static_cast<uint64_t>(stmt->int_at(0));
  h.lamport = static_cast<uint64_t>(stmt->int_at(1));
  const std::string hash = stmt->blob_at(2);
  if (hash.size() != 32) return Status::Corruption("chain head hash of " + origin + " malformed");
  std::memcpy(h.hash.data(), hash.data(), 32);
  return h;
}

Result<std::optional<SignedChainHead>> Replica::signed_head(const std::string& origin) {
  auto stmt = db_.cached(
      "SELECT c.seq, c.lamport, c.hash, c.signature, e.ts FROM chain_head c"
      " JOIN events e ON e.origin=c.origin AND e.seq=c.seq WHERE c.origin=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, origin);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<SignedChainHead>();
  const std::string hash = stmt->blob_at(2), sig = stmt->blob_at(3);
  if (hash.size() != 32 || sig.size() != 64) return std::optional<SignedChainHead>();
  SignedChainHead h;
  h.head.seq = static_cast<uint64_t>(stmt->int_at(0));
  h.head.lamport = static_cast<uint64_t>(stmt->int_at(1));
  std::memcpy(h.head.hash.data(), hash.data(), 32);
  std::memcpy(h.signature.data(), sig.data(), 64);
  h.ts = stmt->int_at(4);
  return std::optional<SignedChainHead>(h);
}

Result<Hash32> Replica::hash_at(const std::string& origin, uint64_t seq) {
  auto stmt = db_.cached("SELECT hash FROM events WHERE origin=?1 AND seq=?2");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, origin).bind(2, static_cast<int64_t>(seq));
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  const std::string hash = *row ? stmt->blob_at(0) : std::string();
  if (hash.size() != 32)
    return Status::NotFound("event_not_held", "未持有该事件",
                            "event " + std::to_string(seq) + " of " + origin + " is not held");
  Hash32 h;
  std::memcpy(h.data(), hash.data(), 32);
  return h;
}

Result<std::vector<Event>> Replica::read(const std::string& origin, uint64_t from, size_t max,
                                        size_t max_bytes) {
  auto stmt = db_.cached(std::string("SELECT ") + kEventColumns +
                         " FROM events WHERE origin=?1 AND seq>=?2 ORDER BY seq LIMIT ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, origin).bind(2, static_cast<int64_t>(from)).bind(3, static_cast<int64_t>(max));
  std::vector<Event> out;
  size_t bytes = 0;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Event e = event_from_row(*stmt);
    bytes += wire_size(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(std::move(e));
  }
  return out;
}

Result<Event> Replica::extend(const std::string& origin, const std::string& case_id,
                              const std::string& kind, const std::string& actor, Timestamp ts,
                              std::string body, const SigningKey& key, uint64_t after) {
  std::vector<Event> run(1);
  run[0].case_id = case_id;
  run[0].kind = kind;
  run[0].actor = actor;
  run[0].ts = ts;
  run[0].body = std::move(body);
  TB_RETURN_IF_ERROR(extend_run(origin, run, key, after));
  return std::move(run[0]);
}

Status Replica::extend_run(const std::string& origin, std::vector<Event>& drafts,
                           const SigningKey& key, uint64_t after) {
  if (drafts.empty()) return Status::Ok();
  auto h = head(origin);
  if (!h.ok()) return h.status();
  ChainHead at = *h;
  at.lamport = std::max(at.lamport, after);
  for (Event& e : drafts) {
    e.origin = origin;
    e.seq = at.seq + 1;
    e.lamport = at.lamport + 1;
    e.prev_hash = at.hash;
    e.hash = compute_event_hash(e);
    at = ChainHead{e.seq, e.lamport, e.hash};
  }
  // The head's signature covers every event before it through the hash links.
  const Signature sig = key.sign(chain_head_message(origin, at));
  return append(drafts, sig);
}

Status Replica::append(const std::vector<Event>& fresh, const Signature& signature) {
  if (fresh.empty()) return Status::Ok();
  auto insert = db_.cached(std::string("INSERT INTO events(") + kEventColumns +
                           ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
  if (!insert.ok()) return insert.status();
  for (const Event& e : fresh) {
    bind_event(*insert, e);
    TB_RETURN_IF_ERROR(insert->run());
  }
  const Event& last = fresh.back();
  auto head = db_.cached(
      "INSERT INTO chain_head(origin, seq, lamport, hash, signature) VALUES(?1,?2,?3,?4,?5)"
      " ON CONFLICT(origin) DO UPDATE SET seq=excluded.seq, lamport=excluded.lamport,"
      " hash=excluded.hash, signature=excluded.signature");
  if (!head.ok()) return head.status();
  head->bind(1, last.origin).bind(2, static_cast<int64_t>(last.seq));
  head->bind(3, static_cast<int64_t>(last.lamport)).bind_blob(4, last.hash.data(), 32);
  head->bind_blob(5, signature.data(), signature.size());
  return head->run();
}

}  // namespace tongban::sync
