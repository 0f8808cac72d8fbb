#include "tongban/sync/doc_transfer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace tongban::sync {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr uint32_t kMaxRequestChunks = 4;  // a receiver asks for two ahead
// Events arrive many times a second: look for new documents at most this often for them.
constexpr auto kPokeSpacing = std::chrono::milliseconds(200);

bool hash_from(const std::string& bytes, Hash32& out) {
  if (bytes.size() != out.size()) return false;
  std::memcpy(out.data(), bytes.data(), out.size());
  return true;
}

}  // namespace

struct DocTransfer::Peer {
  bool up = false;
  std::optional<StoredDocument> current;
  uint32_t next_to_store = 0;  // the chunk expected next
  uint32_t next_to_ask = 0;    // the first chunk not asked for yet
  SteadyClock::time_point last_progress{};
  SteadyClock::time_point last_scan{};
  bool poked = false;  // documents may be wanted: look soon
};

DocTransfer::DocTransfer(DocumentHandler& handler, std::function<void()> notify,
                         DocTransferOptions options)
    : handler_(handler), notify_(std::move(notify)), options_(options) {}

DocTransfer::~DocTransfer() { stop(); }

void DocTransfer::start() { thread_ = std::thread([this] { loop(); }); }

void DocTransfer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DocTransfer::peer_up(const std::string& peer) {
  {
    std::lock_guard lock(mu_);
    links_[peer] = true;
  }
  cv_.notify_all();
}

void DocTransfer::peer_down(const std::string& peer) {
  {
    std::lock_guard lock(mu_);
    links_[peer] = false;
  }
  cv_.notify_all();
}

void DocTransfer::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void DocTransfer::received(const std::string& peer, pb::Envelope env) {
  {
    std::lock_guard lock(mu_);
    inbox_.emplace_back(peer, std::move(env));
  }
  cv_.notify_all();
}

std::vector<std::pair<std::string, pb::Envelope>> DocTransfer::outbound() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, pb::Envelope>> out(std::make_move_iterator(outbox_.begin()),
                                                        std::make_move_iterator(outbox_.end()));
  outbox_.clear();
  return out;
}

DocTransfer::Stats DocTransfer::stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

void DocTransfer::send(const std::string& peer, pb::Envelope env) {
  {
    std::lock_guard lock(mu_);
    outbox_.emplace_back(peer, std::move(env));
  }
  if (notify_) notify_();
}

void DocTransfer::loop() {
  for (;;) {
    std::deque<std::pair<std::string, pb::Envelope>> inbox;
    std::map<std::string, bool> links;
    bool poked = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [&] { return stop_ || !inbox_.empty() || poked_ || !links_.empty(); });
      if (stop_) return;
      inbox.swap(inbox_);
      links.swap(links_);
      poked = std::exchange(poked_, false);
    }
    for (const auto& [peer, up] : links) {
      Peer& p = peers_[peer];
      p.up = up;
      drop_current(p);  // a new link: resume from what the store holds
      if (up) fetch(peer, p);
    }
    for (const auto& [peer, env] : inbox) handle(peer, env);
    const auto now = SteadyClock::now();
    for (auto& [peer, p] : peers_) {
      if (!p.up) continue;
      p.poked = p.poked || poked;  // served once the spacing allows, not dropped
      if (p.current && now - p.last_progress > options_.stall) {
        p.next_to_ask = p.next_to_store;  // the asks or the chunks were lost: ask again
        p.last_progress = now;
        ask(peer, p);
      } else if (!p.current && ((p.poked && now - p.last_scan > kPokeSpacing) ||
                                now - p.last_scan > options_.rescan)) {
        p.poked = false;
        fetch(peer, p);
      }
    }
  }
}

void DocTransfer::drop_current(Peer& p) {
  p.current.reset();
  p.next_to_store = p.next_to_ask = 0;
}

void DocTransfer::fetch(const std::string& peer, Peer& p) {
  if (p.current || !p.up) return;
  p.last_scan = SteadyClock::now();
  auto wanted = handler_.wanted_from(peer, 1);
  if (!wanted.ok()) {
    spdlog::warn("documents: cannot list what to fetch from {}: {}", peer,
                 wanted.status().message_en());
    return;
  }
  if (wanted->empty()) return;
  p.current = wanted->front();
  p.next_to_store = p.next_to_ask = p.current->have;
  p.last_progress = SteadyClock::now();
  ask(peer, p);
}

void DocTransfer::ask(const std::string& peer, Peer& p) {
  if (!p.current) return;
  const uint32_t limit = std::min(p.current->chunks, p.next_to_store + options_.window);
  if (p.next_to_ask >= limit) return;
  pb::Envelope env;
  auto* r = env.mutable_doc_request();
  r->set_case_id(p.current->case_id);
  r->set_hash(p.current->hash.data(), p.current->hash.size());
  r->set_first(p.next_to_ask);
  r->set_count(limit - p.next_to_ask);
  p.next_to_ask = limit;
  send(peer, std::move(env));
}

void DocTransfer::handle(const std::string& peer, const pb::Envelope& env) {
  switch (env.msg_case()) {
    case pb::Envelope::kDocRequest:
      serve(peer, env.doc_request());
      break;
    case pb::Envelope::kDocChunk:
      take(peer, env.doc_chunk());
      break;
    case pb::Envelope::kDocMissing: {
      Peer& p = peers_[peer];
      Hash32 hash{};
      if (!p.current || !hash_from(env.doc_missing().hash(), hash) || hash != p.current->hash ||
          env.doc_missing().case_id() != p.current->case_id)
        break;
      (void)handler_.defer(p.current->case_id, hash, options_.missing_retry_s);
      drop_current(p);
      fetch(peer, p);
      break;
    }
    default:
      break;
  }
}

void DocTransfer::serve(const std::string& peer, const pb::DocRequest& req) {
  Hash32 hash{};
  if (!hash_from(req.hash(), hash)) return;
  const uint32_t count = std::min(req.count(), kMaxRequestChunks);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t index = req.first() + i;
    auto chunk = handler_.chunk_for(peer, req.case_id(), hash, index);
    pb::Envelope env;
    if (!chunk.ok() || !*chunk) {
      auto* m = env.mutable_doc_missing();
      m->set_case_id(req.case_id());
      m->set_hash(req.hash());
      m->set_index(index);
      send(peer, std::move(env));
      return;
    }
    auto* c = env.mutable_doc_chunk();
    c->set_case_id(req.case_id());
    c->set_hash(req.hash());
    c->set_index(index);
    c->set_data(std::move(**chunk));
    send(peer, std::move(env));
    std::lock_guard lock(mu_);
    ++stats_.chunks_sent;
  }
}

void DocTransfer::take(const std::string& peer, const pb::DocChunk& chunk) {
  Peer& p = peers_[peer];
  Hash32 hash{};
  const auto refused = [&](const std::string& why) {
    {
      std::lock_guard lock(mu_);
      ++stats_.chunks_refused;
    }
    // Stale chunks are normal after asking again (both answers arrive): debug only.
    spdlog::debug("documents: refused chunk {} from {}: {}", chunk.index(), peer, why);
  };
  if (!p.current || !hash_from(chunk.hash(), hash) || hash != p.current->hash ||
      chunk.case_id() != p.current->case_id)
    return refused("not asked for");
  if (chunk.index() != p.next_to_store)
    return refused("out of order: expected " + std::to_string(p.next_to_store));
  auto put = handler_.put(p.current->case_id, hash, chunk.index(), chunk.data());
  if (!put.ok()) {
    if (put.status().code() == StatusCode::kInvalidArgument ||
        put.status().code() == StatusCode::kNotFound) {
      refused(put.status().message_en());
      spdlog::warn("documents: a chunk of case {} from {} was refused: {}", p.current->case_id,
                   peer, put.status().message_en());
      (void)handler_.defer(p.current->case_id, hash, options_.failed_retry_s);
      drop_current(p);
      fetch(peer, p);
    } else {  // storage trouble: the stall timer asks again
      spdlog::warn("documents: storing a chunk from {} failed: {}", peer,
                   put.status().message_en());
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.chunks_received;
    if (*put == DocumentStore::Put::kComplete) ++stats_.documents_completed;
  }
  p.last_progress = SteadyClock::now();
  switch (*put) {
    case DocumentStore::Put::kStored:
      ++p.next_to_store;
      ask(peer, p);
      return;
    case DocumentStore::Put::kRejected:
      spdlog::error("documents: a document of case {} from {} does not match its hash: dropped",
                    p.current->case_id, peer);
      break;
    case DocumentStore::Put::kComplete:
    case DocumentStore::Put::kDuplicate:
      break;
  }
  drop_current(p);
  fetch(peer, p);
}

}  // namespace tongban::sync
