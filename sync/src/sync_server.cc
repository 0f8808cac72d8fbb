#include "tongban/sync/sync_server.h"
#include "tongban/sync/zap.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>

namespace tongban::sync {

namespace {
using SteadyClock = std::chrono::steady_clock;
constexpr auto kDeliveryResendAfter = std::chrono::seconds(5);
// A delivery's size, by its events' wire_size().
constexpr size_t kDeliveryBytes = kSlowLinkMessageBytes;
// A restored hub takes back at most this much of one site's stream (the directives of the
// days since its backup; the site is authenticated, the bound keeps the hub's memory safe),
// one site at a time: others wait their turn a second at a time.
constexpr size_t kMaxReturnBytes = 128u << 20;
constexpr auto kReturnRetryAfter = std::chrono::seconds(30);
constexpr auto kReturnTurnAfter = std::chrono::seconds(1);
// A return with no page for this long is dropped (the node went away), freeing the turn.
constexpr auto kReturnStalledAfter = std::chrono::seconds(60);
constexpr auto kWarnEvery = std::chrono::seconds(10);
}  // namespace

// Peers can make the hub refuse as often as they like: the first refusal of each kind is
// logged, then at most one line per 10 s with how many came meanwhile. Kinds are a fixed
// set of reasons per allowed site (or one for all unauthenticated traffic): bounded.
void SyncServer::warn_throttled(const std::string& kind, const std::string& message) {
  std::lock_guard lock(warn_mu_);
  auto& w = warnings_[kind];
  const auto now = SteadyClock::now();
  if (w.logged_at != SteadyClock::time_point{} && now - w.logged_at < kWarnEvery) {
    ++w.suppressed;
    return;
  }
  if (w.suppressed)
    spdlog::warn("{} (and {} more like it in the last {} s)", message, w.suppressed,
                 std::chrono::duration_cast<std::chrono::seconds>(now - w.logged_at).count());
  else
    spdlog::warn("{}", message);
  w.logged_at = now;
  w.suppressed = 0;
}

struct SyncServer::Peers {
  std::map<std::string, PublicKey> signing;          // site -> Ed25519
  std::map<std::string, std::string> site_of_curve;  // CURVE public key bytes -> site
};

struct SyncServer::Session {
  std::string site;
  std::string routing_id;
  uint64_t acked = 0;              // newest stream seq the node applied
  uint64_t next = 1;               // next stream seq to send
  std::deque<uint64_t> in_flight;  // last seq of each unacknowledged delivery
  SteadyClock::time_point last_progress = SteadyClock::now();
  uint32_t version = kProtocolVersion;  // agreed in the Hello
  // The stream the node returns to a restored hub: the pages so far (checked as one
  // batch at the end), from which seq, and when the last page was asked for.
  std::optional<pb::Batch> returning;
  uint64_t returning_from = 0;
  size_t returning_bytes = 0;
  SteadyClock::time_point returning_asked{};
  SteadyClock::time_point return_retry_at{};  // when the sweep begins the return again
  SteadyClock::time_point returning_progress{};  // the return's start or its last page
  uint64_t hello_delivered = 0;  // the node's applied stream head, as its Hello said
};

// What the loop knows of one site's incoming chain.
struct SyncServer::Ingest {
  bool known = false;          // false: read the durable head from the handler first
  ChainHead durable;           // the newest event committed
  ChainHead checked;           // the newest event handed to the store thread
  std::deque<Hash32> pending;  // hashes of events durable.seq+1 .. checked.seq
  size_t queued = 0;           // runs handed on whose outcome the loop has not seen
  size_t queued_events = 0;    // and their events
  bool failed = false;         // one failed: refuse the site until every queued run is back
};

// The outcome of one run, store thread -> loop.
struct SyncServer::Stored {
  std::string site;
  ChainHead head;  // the run's last event
  size_t events = 0;
  bool ok = false;
  const char* refusal = "storage failed";  // told to the site when not ok
};

SyncServer::SyncServer(ServerOptions options, SyncHandler& handler)
    : options_(std::move(options)), handler_(handler), ctx_(1) {}

SyncServer::~SyncServer() { stop(); }

Result<size_t> SyncServer::reload() {
  auto keys = options_.load_keys();
  if (!keys.ok()) {
    spdlog::error("sync: the allow-list was not reloaded (the previous one stays): {}",
                  keys.status().message_en());
    return keys.status();
  }
  auto fresh = std::make_shared<Peers>();
  for (const auto& [site, key] : *keys) {
    const auto curve = curve_public_from(key);
    if (!curve) continue;
    fresh->signing[site] = key;
    fresh->site_of_curve[std::string(curve->begin(), curve->end())] = site;
  }
  const size_t allowed = fresh->signing.size();
  std::lock_guard lock(peers_mu_);
  peers_ = std::move(fresh);
  spdlog::info("sync: allow-list loaded, {} sites", allowed);
  return allowed;
}

std::shared_ptr<const SyncServer::Peers> SyncServer::peers() {
  std::lock_guard lock(peers_mu_);
  return peers_;
}

Result<std::string> SyncServer::start() {
  if (auto loaded = reload(); !loaded.ok()) return loaded.status();
  try {
    // The ZAP handler must be bound before the ROUTER: CURVE without one admits anyone
    // who knows the (public) server key.
    zap_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind("inproc://zeromq.zap.01");
    router_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
    apply_common_options(*router_);
    router_->set(zmq::sockopt::curve_server, 1);
    router_->set(
        zmq::sockopt::curve_secretkey,
        zmq::const_buffer(options_.curve.secret_key.data(), options_.curve.secret_key.size()));
    router_->set(zmq::sockopt::zap_domain, "tongban");
    router_->set(zmq::sockopt::router_mandatory, 1);
    router_->set(zmq::sockopt::router_handover, 1);
    // A connection that never completes CURVE holds a descriptor: not for long.
    router_->set(zmq::sockopt::handshake_ivl, 5000);
    router_->bind(options_.endpoint);
    const std::string bound = router_->get(zmq::sockopt::last_endpoint);
    if (options_.documents) {
      docs_ = std::make_unique<DocTransfer>(*options_.documents, [this] { wake_.notify(); });
      docs_->start();
    }
    zap_thread_ = std::thread([this] { zap_loop(); });
    loop_thread_ = std::thread([this] { router_loop(); });
    store_thread_ = std::thread([this] { store_loop(); });
    resident_thread_ = std::thread([this] { resident_loop(); });
    return bound;
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("sync server: ") + e.what());
  }
}

void SyncServer::stop() {
  if (stop_.exchange(true)) return;
  wake_.notify();
  {
    std::lock_guard lock(store_mu_);  // so the store thread does not miss the flag
  }
  store_cv_.notify_all();
  {
    std::lock_guard lock(questions_mu_);
  }
  questions_cv_.notify_all();
  if (resident_thread_.joinable()) resident_thread_.join();
  if (zap_thread_.joinable()) zap_thread_.join();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (store_thread_.joinable()) store_thread_.join();
  if (docs_) docs_->stop();
  router_.reset();
  zap_.reset();
  ctx_.close();
}

void SyncServer::zap_loop() {
  // RFC 27 ZAP: [version, request id, domain, address, identity, mechanism, credentials…].
  while (!stop_) {
    zmq::pollitem_t item{zap_->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<std::string> frames;
      for (;;) {
        zmq::message_t part;
        if (!zap_->recv(part)) break;
        frames.push_back(part.to_string());
        if (!part.more()) break;
      }
      const ZapReply r = zap_decide(frames, peers()->site_of_curve);
      if (r.status_code != "200") count_refusal("CURVE_DENIED");
      if (r.status_code != "200")
        warn_throttled("zap", "sync: refused a CURVE handshake from an unknown or revoked key");
      zap_->send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
      zap_->send(zmq::buffer(r.request_id), zmq::send_flags::sndmore);
      zap_->send(zmq::buffer(r.status_code), zmq::send_flags::sndmore);
      zap_->send(zmq::buffer(r.status_text), zmq::send_flags::sndmore);
      zap_->send(zmq::buffer(r.user_id), zmq::send_flags::sndmore);
      zap_->send(zmq::buffer(std::string()), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (stop_) break;
      spdlog::error("sync: ZAP handler failed: {}", e.what());
    }
  }
}

void SyncServer::reply(const std::string& routing_id, pb::Envelope env) {
  try {
    router_->send(zmq::buffer(routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    // A node's routing id is its site id: answer in the version its session agreed.
    auto session = sessions_.find(routing_id);
    const uint32_t version = session == sessions_.end() || !session->second
                                 ? options_.max_version
                                 : session->second->version;
    router_->send(encode(std::move(env), version), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    // ROUTER_MANDATORY: the peer vanished or is full; it resumes from its cursor later.
    spdlog::debug("sync: reply not delivered: {}", e.what());
  }
}

void SyncServer::count_refusal(const std::string& reason) {
  std::lock_guard lock(refused_mu_);
  ++refused_[reason];
}

std::map<std::string, uint64_t> SyncServer::refusals() const {
  std::lock_guard lock(refused_mu_);
  return refused_;
}

void SyncServer::refuse(const std::string& routing_id, const std::string& site,
                        pb::Error::Code code, const std::string& message, uint64_t expected) {
  if (code != pb::Error::GAP) count_refusal(pb::Error::Code_Name(code));
  if (code != pb::Error::GAP)
    warn_throttled(site + "/" + pb::Error::Code_Name(code),
                   fmt::format("sync: refused message from {}: {} ({})", site,
                               pb::Error::Code_Name(code), message));
  pb::Envelope env;
  env.mutable_error()->set_code(code);
  env.mutable_error()->set_message(message);
  env.mutable_error()->set_expected_seq(expected);
  reply(routing_id, std::move(env));
}

void SyncServer::stream_acked(const std::string& site, uint64_t seq) {
  (void)handler_.stream_acked(site, seq);
  {
    std::lock_guard lock(store_mu_);
    cursors_noted_ = true;
  }
  store_cv_.notify_one();  // the store thread writes it with its next step
}

void SyncServer::pump(Session& s) {
  auto head = handler_.stream_head(s.site);
  if (!head.ok()) return;
  while (s.in_flight.size() < static_cast<size_t>(options_.delivery_window) && s.next <= *head) {
    // However long the case histories in it, a delivery stays about 1 MiB (at least one
    // directive goes), as document chunks do: a slow link must carry it within the
    // heartbeat timeout, and the node must apply it in one short transaction. The read
    // stops there too (directives of ~1.3 KB: ~750 of the 2,000 a read may return).
    auto events = handler_.stream_read(s.site, s.next, options_.delivery_batch, kDeliveryBytes);
    if (!events.ok() || events->empty()) return;
    pb::Envelope env;
    *env.mutable_delivery()->mutable_batch() =
        make_batch(*events, *options_.key);
    s.next = events->back().seq + 1;
    if (s.in_flight.empty()) s.last_progress = SteadyClock::now();  // the resend clock starts now
    s.in_flight.push_back(events->back().seq);
    reply(s.routing_id, std::move(env));
  }
}

void SyncServer::handle(const std::string& routing_id, const std::string& site,
                        const pb::Envelope& env) {
  if (env.version() < kMinProtocolVersion || env.version() > options_.max_version)
    return refuse(routing_id, site, pb::Error::BAD_VERSION,
                  "protocol version " + std::to_string(env.version()) + " (this hub speaks " +
                      std::to_string(kMinProtocolVersion) + ".." +
                      std::to_string(options_.max_version) + ")");
  switch (env.msg_case()) {
    case pb::Envelope::kHello: {
      const pb::Hello& h = env.hello();
      if (h.site() != site)
        return refuse(routing_id, site, pb::Error::WRONG_ORIGIN, "hello for another site");
      auto held = handler_.held(site);
      auto stream = handler_.stream_head(site);
      if (!held.ok() || !stream.ok())
        return refuse(routing_id, site, pb::Error::UNAVAILABLE, "storage");
      // With nothing of the site in the pipe, read its head afresh: a bundle imported
      // while it was away may have moved it.
      if (auto it = ingest_.find(site); it != ingest_.end() && it->second.queued == 0)
        ingest_.erase(it);
      auto& session = sessions_[site];
      if (!session) session = std::make_unique<Session>();
      session->site = site;
      session->routing_id = routing_id;
      // The highest version both speak: the node's newest (v1 nodes say it only by the
      // envelope), capped by this hub's.
      const uint32_t offered = h.max_version() ? h.max_version() : env.version();
      session->version = std::max(kMinProtocolVersion, std::min(offered, options_.max_version));
      if (session->version < kProtocolVersion)
        spdlog::debug("sync: site {} speaks protocol version {}", site, session->version);
      // A restored hub takes back what it lost of the site's stream before it writes again
      // (docs/protocol.md "Backups").
      session->hello_delivered = h.delivered_seq();
      if (handler_.awaits_return(site)) {
        begin_return(*session);
      } else if (h.delivered_seq() > *stream) {
        warn_throttled("stream_behind/" + site,
                       fmt::format("sync: site {} applied hub directives up to {} but the hub's "
                                   "stream for it ends at {}, and the hub does not wait for it "
                                   "(waived): new directives to it will be refused as a fork",
                                   site, h.delivered_seq(), *stream));
      }
      session->acked = std::min(h.delivered_seq(), *stream);
      session->next = session->acked + 1;
      session->in_flight.clear();
      session->last_progress = SteadyClock::now();
      stream_acked(site, session->acked);
      handler_.contact(site, claim(site, h.has_head() ? &h.head() : nullptr));
      pb::Envelope w;
      w.mutable_welcome()->set_acked_seq(held->seq);
      w.mutable_welcome()->set_stream_head(*stream);
      if (held->seq > 0) w.mutable_welcome()->set_acked_hash(held->hash.data(), held->hash.size());
      w.mutable_welcome()->set_version(session->version);
      reply(routing_id, std::move(w));
      if (docs_) docs_->peer_up(site);
      return pump(*session);
    }
    case pb::Envelope::kDocRequest:
    case pb::Envelope::kDocChunk:
    case pb::Envelope::kDocMissing:
      handler_.contact(site, std::nullopt);
      if (docs_) docs_->received(site, env);
      return;
    case pb::Envelope::kResidentQuery: {
      handler_.contact(site, std::nullopt);
      {
        std::lock_guard lock(questions_mu_);
        if (questions_.size() < kMaxQueuedQuestions) {
          questions_.emplace_back(site, env.resident_query());
          questions_cv_.notify_one();
          return;
        }
      }
      pb::Envelope busy;  // the window goes on without the district's answer, and says so
      busy.mutable_resident_answer()->set_request_id(env.resident_query().request_id());
      busy.mutable_resident_answer()->set_error("busy");
      return reply(routing_id, std::move(busy));
    }
    case pb::Envelope::kBatch:
      return on_batch(routing_id, site, env.batch());
    case pb::Envelope::kHeartbeat: {
      handler_.contact(site, claim(site, env.heartbeat().has_head() ? &env.heartbeat().head()
                                                                    : nullptr));
      Ingest* in = ingest_of(site);
      if (!in) return refuse(routing_id, site, pb::Error::UNAVAILABLE, "storage");
      return ack(site, in->durable.seq);
    }
    case pb::Envelope::kStreamReturn: {
      handler_.contact(site, std::nullopt);
      auto it = sessions_.find(site);
      if (it == sessions_.end() || !it->second->returning) return;  // not asked for: dropped
      return on_returned(*it->second, env.stream_return());
    }
    case pb::Envelope::kDeliveryAck: {
      handler_.contact(site, std::nullopt);
      auto it = sessions_.find(site);
      if (it == sessions_.end()) return;
      Session& s = *it->second;
      const uint64_t seq = env.delivery_ack().delivered_seq();
      if (seq > s.acked) {
        s.acked = seq;
        s.last_progress = SteadyClock::now();
        stream_acked(site, seq);
      }
      while (!s.in_flight.empty() && s.in_flight.front() <= s.acked) s.in_flight.pop_front();
      return pump(s);
    }
    default:
      return refuse(routing_id, site, pb::Error::MALFORMED, "unexpected message");
  }
}

void SyncServer::begin_return(Session& s) {
  s.returning.reset();
  // A start that fails is tried again from the sweep.
  s.return_retry_at = SteadyClock::now() + kReturnRetryAfter;
  auto stream = handler_.stream_head(s.site);
  if (!stream.ok()) return;
  if (s.hello_delivered <= *stream) {
    auto answered = handler_.returned(s.site, {}, Signature{});
    if (!answered.ok())
      spdlog::error("sync: recording that site {} lost nothing failed: {}", s.site,
                    answered.status().message_en());
    return;
  }
  if (s.version < 3) {
    warn_throttled("stream_behind/" + s.site,
                   fmt::format("sync: site {} applied hub directives up to {} beyond the "
                               "restored hub's {}, but speaks protocol {}, which cannot return "
                               "them: upgrade it, or waive it at the hub",
                               s.site, s.hello_delivered, *stream, s.version));
    return;
  }
  // One site's stream in memory at a time.
  for (const auto& [site, other] : sessions_)
    if (other.get() != &s && other->returning) {
      s.return_retry_at = SteadyClock::now() + kReturnTurnAfter;
      return;
    }
  s.returning.emplace();
  s.returning->set_origin(stream_origin(s.site));
  s.returning_from = *stream + 1;
  s.returning_bytes = 0;
  s.returning_progress = SteadyClock::now();
  ask_return(s, *stream + 1);
}

void SyncServer::ask_return(Session& s, uint64_t from) {
  s.returning_asked = SteadyClock::now();
  pb::Envelope env;
  env.mutable_stream_return_request()->set_from_seq(from);
  reply(s.routing_id, std::move(env));
}

void SyncServer::on_returned(Session& s, const pb::StreamReturn& page) {
  pb::Batch& run = *s.returning;
  const auto give_up = [&](const std::string& why) {
    s.returning.reset();
    s.return_retry_at = SteadyClock::now() + kReturnRetryAfter;
    count_refusal("STREAM_RETURN");
    warn_throttled("return/" + s.site,
                   fmt::format("sync: the stream site {} returned is refused ({}); the hub "
                               "asks again in 30 s",
                               s.site, why));
  };
  const uint64_t expected = s.returning_from + static_cast<uint64_t>(run.events_size());
  if (page.batch().origin() != run.origin()) return give_up("another stream");
  if (page.batch().events_size() == 0) return give_up("an empty page");
  // An answer to an earlier ask (asked again after a slow page, or before a new Hello).
  if (page.batch().events(0).seq() != expected) return;
  s.returning_bytes += page.ByteSizeLong();
  if (s.returning_bytes > kMaxReturnBytes) return give_up("more than the hub takes back");
  for (const pb::WireEvent& e : page.batch().events()) *run.add_events() = e;
  s.returning_progress = SteadyClock::now();
  const uint64_t last = run.events(run.events_size() - 1).seq();
  if (last < page.head_seq()) return ask_return(s, last + 1);
  // The whole run, as one batch signed by this hub over the node's applied head.
  run.set_signature(page.batch().signature());
  const std::string stream = stream_origin(s.site);
  auto held = handler_.held(stream);
  if (!held.ok()) return give_up("storage: " + held.status().message_en());
  const BatchCheck check =
      check_batch(run, *held, options_.key->public_key(),
                  [&](uint64_t seq) { return handler_.held_hash(stream, seq); });
  if (!check.ok()) return give_up(check.message);
  s.returning.reset();
  auto stored = handler_.returned(s.site, check.fresh, check.signature);
  if (!stored.ok()) {
    spdlog::error("sync: storing the stream site {} returned failed: {}", s.site,
                  stored.status().message_en());
    return;  // asked again from the sweep
  }
  if (!*stored) return;  // waived meanwhile: the hub's stream stays as it was
  s.acked = last;
  s.next = last + 1;
  s.in_flight.clear();
  stream_acked(s.site, last);
  pump(s);
}

std::optional<HeadClaim> SyncServer::claim(const std::string& site, const pb::SignedHead* head) {
  if (!head) return std::nullopt;
  const auto p = peers();
  auto key = p->signing.find(site);
  if (key == p->signing.end()) return std::nullopt;
  return verify_head(*head, site, key->second);
}

SyncServer::Ingest* SyncServer::ingest_of(const std::string& site) {
  Ingest& in = ingest_[site];
  if (!in.known) {
    auto held = handler_.held(site);
    if (!held.ok()) return nullptr;
    in.durable = in.checked = *held;
    in.known = true;
  }
  return &in;
}

void SyncServer::ack(const std::string& site, uint64_t seq) {
  pb::Envelope a;
  a.mutable_ack()->set_origin(site);
  a.mutable_ack()->set_acked_seq(seq);
  reply(site, std::move(a));  // a node's routing id is its site id
}

void SyncServer::on_batch(const std::string& routing_id, const std::string& site,
                          const pb::Batch& b) {
  if (b.origin() != site)
    return refuse(routing_id, site, pb::Error::WRONG_ORIGIN,
                  "authenticated as " + site + " but pushed events of " + b.origin());
  const auto p = peers();
  auto key = p->signing.find(site);
  if (key == p->signing.end()) return refuse(routing_id, site, pb::Error::UNKNOWN_SITE, "revoked");
  Ingest* ingest = ingest_of(site);
  if (!ingest) return refuse(routing_id, site, pb::Error::UNAVAILABLE, "storage");
  Ingest& in = *ingest;
  if (in.failed) return refuse(routing_id, site, pb::Error::UNAVAILABLE, "storage failed");
  if (in.queued_events > options_.site_queue_events)
    return refuse(routing_id, site, pb::Error::UNAVAILABLE, "busy: too many events waiting");
  BatchCheck check = check_batch(b, in.checked, key->second, [&](uint64_t seq) -> Result<Hash32> {
    if (seq > in.durable.seq) return in.pending[seq - in.durable.seq - 1];  // still in the pipe
    return handler_.held_hash(site, seq);
  });
  if (check.error == pb::Error::FORK) handler_.diverged(site, check.expected_seq, check.message);
  if (!check.ok()) return refuse(routing_id, site, check.error, check.message, check.expected_seq);
  const std::optional<HeadClaim> head =
      b.has_origin_head() ? verify_head(b.origin_head(), site, key->second) : std::nullopt;
  handler_.contact(site, head);
  if (check.fresh.empty()) return ack(site, in.durable.seq);  // all held: what is durable
  // Signed and chained, but what the hub cannot use (a body that is no case event) is
  // refused before it is stored: once acknowledged it could never be projected.
  if (Status admitted = handler_.admit(check.fresh); !admitted.ok())
    return refuse(routing_id, site, pb::Error::MALFORMED, admitted.message_en(),
                  check.fresh.front().seq);
  for (const Event& e : check.fresh) in.pending.push_back(e.hash);
  const Event& last = check.fresh.back();
  in.checked = ChainHead{last.seq, last.lamport, last.hash};
  ++in.queued;
  in.queued_events += check.fresh.size();
  {
    std::lock_guard lock(store_mu_);
    to_store_[site].push_back(
        StoreRun{site, std::move(check), head ? head->seq : 0, head ? head->ts : 0});
  }
  store_cv_.notify_one();
}

void SyncServer::store_loop() {
  auto live_seen = SteadyClock::time_point{};
  // Storage first (it is what sites wait for); what follows it (the hub's projection) runs
  // when nothing waits to be stored, and one step per project_every while sites keep the
  // store busy. After any step storing has the thread for project_every. Work may wait
  // from before a restart, so the loop starts with a step.
  bool follow_up = true;
  auto next_busy = SteadyClock::now();
  auto last_stored = SteadyClock::time_point{};
  auto retry_after = SteadyClock::time_point{};  // after a failed step
  // A step's size: idle_project_events once the store has been idle a while and no live
  // site has sent for 2 s; else (a catch-up's batches arrive back to back, a live site's
  // every few ms) a small one, so a batch arriving meanwhile waits little.
  const auto step = [&](bool busy) {
    const auto began = SteadyClock::now();
    const bool settled = began - last_stored > std::chrono::milliseconds(50) &&
                         began - live_seen > std::chrono::seconds(2);
    auto more = handler_.project(busy || !settled ? options_.busy_project_events
                                                  : options_.idle_project_events);
    const auto now = SteadyClock::now();
    next_busy = now + options_.project_every;
    if (more.ok()) {
      follow_up = *more;
    } else {  // retried later; the stored events are safe meanwhile
      spdlog::error("sync: what follows storage failed (retried in 5 s): {}",
                    more.status().message_en());
      retry_after = now + std::chrono::seconds(5);
    }
  };
  for (;;) {
    std::vector<StoreRun> group;
    std::vector<Stored> outcomes;
    bool idle = false, cursors = false;
    {
      std::unique_lock lock(store_mu_);
      const auto ready = [&] { return stop_ || !to_store_.empty() || cursors_noted_; };
      // With nothing known to follow, a step every few seconds still looks (work left by a
      // write that did not pass through this thread, e.g. a bundle import that failed to
      // project).
      if (!follow_up)
        follow_up = !store_cv_.wait_for(lock, std::chrono::seconds(5), ready);
      else if (SteadyClock::now() < retry_after)
        store_cv_.wait_until(lock, retry_after, ready);
      if (stop_) return;  // what was not stored was not acknowledged: sites resend it
      idle = to_store_.empty();
      cursors = std::exchange(cursors_noted_, false);
    }
    const auto woke = SteadyClock::now();
    const bool may_step = follow_up && woke >= retry_after;
    if (idle) {  // nothing waits to be stored; a step also writes the noted stream cursors
      if (may_step || (cursors && woke >= retry_after)) step(false);
      continue;
    }
    if (may_step && woke >= next_busy) step(true);
    {
      std::unique_lock lock(store_mu_);
      if (stop_) return;
      // Rounds over the waiting sites, fewest waiting events first, one run each per round.
      std::vector<std::pair<size_t, std::string>> order;
      const auto now = SteadyClock::now();
      for (const auto& [site, runs] : to_store_) {
        size_t waiting = 0;
        for (const StoreRun& r : runs) {
          waiting += r.check.fresh.size();
          if (r.check.fresh.size() <= options_.live_run_events) live_seen = now;
        }
        order.emplace_back(waiting, site);
      }
      std::sort(order.begin(), order.end());
      const size_t cap = now - live_seen < std::chrono::seconds(2) ? options_.group_events
                                                                   : options_.bulk_group_events;
      size_t events = 0;
      for (bool took = true; took;) {
        took = false;
        for (const auto& [waiting, site] : order) {
          auto it = to_store_.find(site);
          if (it == to_store_.end()) continue;
          const size_t size = it->second.front().check.fresh.size();
          if (!group.empty() && events + size > cap) continue;
          StoreRun run = std::move(it->second.front());
          it->second.pop_front();
          if (it->second.empty()) to_store_.erase(it);
          took = true;
          if (poisoned_.count(run.site)) {
            outcomes.push_back(Stored{run.site, {}, run.check.fresh.size(), false});
            continue;
          }
          events += size;
          group.push_back(std::move(run));
        }
      }
    }
    Result<std::set<std::string>> st = std::set<std::string>{};  // the sites left out
    if (!group.empty()) st = handler_.store(group);
    if (!st.ok())
      spdlog::error("sync: storing {} batches failed: {}", group.size(), st.status().message_en());
    else if (!group.empty())
      follow_up = true;
    if (st.ok())
      for (const std::string& site : *st)  // that site resends from the stored head
        spdlog::warn(
            "sync: a batch of {} no longer follows its stored chain (a bundle of it "
            "was imported meanwhile): not stored",
            site);
    if (!group.empty()) last_stored = SteadyClock::now();
    {
      std::lock_guard lock(store_mu_);
      for (const StoreRun& run : group) {
        const bool stored = st.ok() && !st->count(run.site);
        if (!stored) poisoned_.insert(run.site);
        const Event& last = run.check.fresh.back();
        outcomes.push_back(Stored{
            run.site, ChainHead{last.seq, last.lamport, last.hash}, run.check.fresh.size(), stored,
            st.ok() ? "chain moved: send again from the hub's head" : "storage failed"});
      }
      for (Stored& o : outcomes) stored_.push_back(std::move(o));
      // Freeing thousands of events costs the store thread dearly (malloc consolidation);
      // the loop, which allocated them, frees them.
      for (StoreRun& run : group) spent_.push_back(std::move(run));
    }
    stored_wake_.notify();
  }
}

void SyncServer::on_stored() {
  std::deque<Stored> done;
  std::vector<StoreRun> spent;
  {
    std::lock_guard lock(store_mu_);
    done.swap(stored_);
    spent.swap(spent_);
  }
  for (const Stored& s : done) {
    Ingest& in = ingest_[s.site];
    --in.queued;
    in.queued_events -= s.events;
    if (s.ok && !in.failed) {
      in.pending.erase(in.pending.begin(),
                       in.pending.begin() + static_cast<long>(s.head.seq - in.durable.seq));
      in.durable = s.head;
      ack(s.site, s.head.seq);
    } else if (!s.ok && !in.failed) {
      in.failed = true;
      refuse(s.site, s.site, pb::Error::UNAVAILABLE, s.refusal);
    }
    if (in.failed && in.queued == 0) {  // the pipe is empty: resume from the durable head
      in = Ingest{};
      std::lock_guard lock(store_mu_);
      poisoned_.erase(s.site);
    }
  }
}

void SyncServer::resident_loop() {
  std::unique_lock lock(questions_mu_);
  while (!stop_) {
    questions_cv_.wait(lock, [this] { return stop_ || !questions_.empty(); });
    if (stop_) break;
    auto [site, query] = std::move(questions_.front());
    questions_.pop_front();
    lock.unlock();
    pb::Envelope answer;
    *answer.mutable_resident_answer() = handler_.resident_query(site, query);
    lock.lock();
    answers_.emplace_back(std::move(site), std::move(answer));
    answers_wake_.notify();
  }
}

void SyncServer::router_loop() {
  auto last_sweep = SteadyClock::now();
  while (!stop_) {
    zmq::pollitem_t items[] = {{router_->handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_.fd(), ZMQ_POLLIN, 0},
                               {nullptr, stored_wake_.fd(), ZMQ_POLLIN, 0},
                               {nullptr, answers_wake_.fd(), ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 4, std::chrono::milliseconds(200));
    } catch (const zmq::error_t&) {
      continue;
    }
    if (items[3].revents & ZMQ_POLLIN) {
      answers_wake_.drain();
      std::deque<std::pair<std::string, pb::Envelope>> ready;
      {
        std::lock_guard lock(questions_mu_);
        ready.swap(answers_);
      }
      for (auto& [site, answer] : ready) reply(site, std::move(answer));  // routing id = site
    }
    if (items[2].revents & ZMQ_POLLIN) {
      stored_wake_.drain();
      on_stored();
      if (docs_) docs_->poke();  // stored events may name documents to fetch
    }
    if (items[1].revents & ZMQ_POLLIN) {
      wake_.drain();
      for (auto& [site, s] : sessions_) pump(*s);
      if (docs_)  // nodes connect with their site id as routing id
        for (auto& [site, out] : docs_->outbound()) reply(site, std::move(out));
    }
    const auto now = SteadyClock::now();
    if (now - last_sweep > std::chrono::seconds(1)) {
      last_sweep = now;
      for (auto& [site, s] : sessions_) {
        if (s->returning && now - s->returning_progress > kReturnStalledAfter) {
          s->returning.reset();  // the node went away mid-return: another site's turn
          s->return_retry_at = now + kReturnRetryAfter;
          warn_throttled("return/" + site, "sync: site " + site +
                                               " stopped returning its stream; the hub asks "
                                               "again later");
        } else if (s->returning && now - s->returning_asked > kDeliveryResendAfter)  // a page lost
          ask_return(*s, s->returning_from + static_cast<uint64_t>(s->returning->events_size()));
        else if (!s->returning && now >= s->return_retry_at &&
                 handler_.awaits_return(site))  // refused or failed: try again
          begin_return(*s);
        if (!s->in_flight.empty() && now - s->last_progress > kDeliveryResendAfter) {
          s->next = s->acked + 1;  // ZeroMQ does not guarantee delivery across reconnects
          s->in_flight.clear();
          s->last_progress = now;
          pump(*s);
        }
      }
    }
    // Messages for at most 2 ms between looks at the rest: a catching-up site keeps the
    // socket readable for seconds, and the acks of stored runs (on_stored), the streams and
    // the residents' answers must not wait for it to run dry.
    const auto busy_until = SteadyClock::now() + std::chrono::milliseconds(2);
    for (int budget = 0; budget < 256 && (items[0].revents & ZMQ_POLLIN) &&
                         (budget == 0 || SteadyClock::now() < busy_until);
         ++budget) {
      zmq::message_t id, payload;
      try {
        // libzmq takes in a peer's newly active pipe only every 100 receives while another
        // pipe keeps yielding messages (socket_base_t::recv, inbound_poll_rate): a live
        // site's batch waited behind dozens of a catching-up site's. Asking for the events
        // processes the pending activations, so the fair queue turns after each message.
        (void)router_->get(zmq::sockopt::events);
        if (!router_->recv(id, zmq::recv_flags::dontwait)) break;
        if (!id.more() || !router_->recv(payload, zmq::recv_flags::dontwait)) {
          continue;
        }
        while (payload.more()) {  // extra frames: not our protocol; drain and drop
          zmq::message_t extra;
          (void)router_->recv(extra, zmq::recv_flags::dontwait);
          if (!extra.more()) break;
        }
      } catch (const zmq::error_t& e) {
        spdlog::warn("sync: receive failed: {}", e.what());
        break;
      }
      // Fail closed: only frames ZAP authenticated carry a User-Id we know.
      std::string site;
      try {
        const char* user = payload.gets("User-Id");
        site = user ? user : "";
      } catch (const zmq::error_t&) {
      }
      const auto p = peers();
      if (site.empty() || !p->signing.count(site)) {
        warn_throttled("unauthenticated", "sync: dropped a frame without a known authenticated site");
        continue;
      }
      // Nodes connect with their site id as routing id (ROUTER_HANDOVER lets a reconnect take
      // over the old pipe); one that claims another site's id is refused here.
      if (id.to_string() != site) {
        warn_throttled(site + "/routing-id",
                       "sync: " + site + " connected with another site's routing id; dropped");
        continue;
      }
      const auto env = decode(payload);
      if (!env) {
        refuse(id.to_string(), site, pb::Error::MALFORMED, "frame does not parse");
        continue;
      }
      handle(id.to_string(), site, *env);
    }
  }
}

}  // namespace tongban::sync
