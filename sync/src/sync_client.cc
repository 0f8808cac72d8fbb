#include "tongban/sync/sync_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>

#include "tongban/shared/db.h"
#include "tongban/sync/replica.h"

namespace tongban::sync {

namespace {

using SteadyClock = std::chrono::steady_clock;
// A Hello (or its Welcome) can be lost like any frame: say it again after this long.
constexpr auto kHelloDeadline = std::chrono::seconds(3);
constexpr auto kHeartbeatEvery = std::chrono::seconds(5);
// Deliveries checked and waiting to be applied: the hub keeps its window (4) in flight.
constexpr size_t kMaxQueuedDeliveries = 8;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}
constexpr const char* kSyncStateSchema =
    "CREATE TABLE IF NOT EXISTS sync_state(peer TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL)"
    " WITHOUT ROWID";

Result<Db> open_sync_db(const std::filesystem::path& file) {
  // The cursor may lag after a crash (the hub answers duplicates with a no-op), so this
  // connection need not pay for synchronous=FULL.
  auto db = Db::open(file, Db::Options{false, true, 5000});
  if (!db.ok()) return db.status();
  // Its small commits would otherwise run the automatic checkpoint of everything the store
  // wrote, on the socket thread; the store's WalCheckpointer does that on its own thread.
  TB_RETURN_IF_ERROR(db->exec("PRAGMA wal_autocheckpoint=0"));
  TB_RETURN_IF_ERROR(db->exec(kSyncStateSchema));
  return db;
}

// Refusals that resending the same log cannot cure: the node's history itself is at odds
// with the hub's (a fork, an edited or reordered event, a batch the site's key did not sign).
bool refusal_is_final(pb::Error::Code code) {
  return code == pb::Error::FORK || code == pb::Error::BROKEN_CHAIN ||
         code == pb::Error::BAD_SIGNATURE || code == pb::Error::WRONG_ORIGIN;
}

// A page of this node's applied stream from `from` for a hub that lost it in a restore
// (wire.proto StreamReturn): at most 200 events and 4 MiB, signed by the hub over the
// node's applied head, as stored. Empty when nothing from `from` is held.
pb::Envelope stream_page(Replica& replica, const std::string& site, uint64_t from) {
  constexpr size_t kPageEvents = 200;
  constexpr size_t kPageBytes = 4u << 20;
  pb::Envelope env;
  pb::StreamReturn& page = *env.mutable_stream_return();
  const std::string stream = stream_origin(site);
  page.mutable_batch()->set_origin(stream);
  auto head = replica.signed_head(stream);
  if (!head.ok() || !*head || from == 0) return env;
  page.set_head_seq((*head)->head.seq);
  page.mutable_batch()->set_signature((*head)->signature.data(), (*head)->signature.size());
  auto events = replica.read(stream, from, kPageEvents);
  if (!events.ok()) return env;
  size_t bytes = 0;
  for (const Event& e : *events) {
    if (e.seq > (*head)->head.seq) break;
    bytes += e.body.size() + 200;
    if (bytes > kPageBytes && page.batch().events_size() > 0) break;
    *page.mutable_batch()->add_events() = to_wire(e);
  }
  return env;
}

}  // namespace

Result<uint64_t> SyncClient::recorded_ack(const std::filesystem::path& db_file,
                                          const std::string&) {
  auto db = open_sync_db(db_file);
  if (!db.ok()) return db.status();
  auto stmt = db->prepare("SELECT acked_seq FROM sync_state WHERE peer='hub'");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<uint64_t>(stmt->int_at(0)) : 0;
}

SyncClient::SyncClient(ClientOptions options, DeliveryHandler& handler)
    : options_(std::move(options)), handler_(handler) {}

SyncClient::~SyncClient() { stop(); }

std::optional<int64_t> SyncClient::seconds_since_answer() const {
  const int64_t at = last_answer_ms_.load();
  if (at == 0) return std::nullopt;
  return (steady_ms() - at) / 1000;
}

Status SyncClient::start() {
  auto acked = recorded_ack(options_.db_file, options_.site);
  if (!acked.ok()) return acked.status();
  acked_ = *acked;
  if (options_.documents) {
    docs_ = std::make_unique<DocTransfer>(*options_.documents, [this] { wake_.notify(); });
    docs_->start();
  }
  applier_ = std::thread([this] { apply_loop(); });
  thread_ = std::thread([this] { loop(); });
  return Status::Ok();
}

void SyncClient::stop() {
  if (stop_.exchange(true)) return;
  {
    std::lock_guard lock(ask_mu_);
    ask_cv_.notify_all();
  }
  wake_.notify();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(apply_mu_);
    apply_cv_.notify_all();
  }
  if (applier_.joinable()) applier_.join();  // what it did not apply is not acknowledged
  if (docs_) docs_->stop();
}

void SyncClient::apply_loop() {
  std::unique_lock lock(apply_mu_);
  while (true) {
    apply_cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    applying_ = true;
    lock.unlock();
    const Status applied = handler_.apply(job.checked, *job.prepared);
    lock.lock();
    applying_ = false;
    if (applied.ok()) {
      applied_ = job.checked.fresh.back().seq;
    } else {
      spdlog::warn("sync client: a delivery was not applied: {}", applied.message_en());
      jobs_.clear();  // they continue the chain of the one that failed
      apply_failed_ = true;
    }
    wake_.notify();
  }
}

Result<pb::ResidentAnswer> SyncClient::ask_hub(pb::ResidentQuery query,
                                               std::chrono::milliseconds timeout) {
  const auto unreachable = [] {
    return Status::Make(StatusCode::kUnavailable, "hub_unreachable",
                        "暂时无法连接区级中心，未能核查全区信息",
                        "the hub cannot be reached now: the district was not checked");
  };
  if (!welcomed_ || diverged_) return unreachable();
  uint64_t id = 0;
  {
    std::lock_guard lock(ask_mu_);
    id = next_request_++;
    query.set_request_id(id);
    pb::Envelope env;
    *env.mutable_resident_query() = std::move(query);
    to_ask_.push_back(std::move(env));
    answers_[id];
  }
  wake_.notify();
  std::unique_lock lock(ask_mu_);
  const bool answered =
      ask_cv_.wait_for(lock, timeout, [&] { return answers_[id].has_value() || stop_; });
  auto answer = std::move(answers_[id]);
  answers_.erase(id);
  if (!answered || !answer) return unreachable();
  return std::move(*answer);
}

void SyncClient::loop() {
  auto db = open_sync_db(options_.db_file);
  if (!db.ok()) {
    spdlog::error("sync client: {}", db.status().message_en());
    return;
  }
  auto log = EventLog::open(*db, options_.site, nullptr);
  if (!log.ok()) {
    spdlog::error("sync client: {}", log.status().message_en());
    return;
  }
  Replica replica(*db);
  // The hub's acknowledgements are recorded on a connection of their own that never waits
  // for the write lock: the store's commits (a delivery from the hub holds it for tens of
  // milliseconds) would otherwise put this thread to sleep in SQLite's busy handler,
  // neither receiving nor acknowledging deliveries meanwhile. A cursor not saved yet is
  // tried again on the next turn. The link always resumes from the hub's Welcome; only a
  // bundle export reads this cursor, and one that lags exports events the hub skips.
  auto cursor_db = open_sync_db(options_.db_file);
  if (!cursor_db.ok() || !cursor_db->exec("PRAGMA busy_timeout=0").ok()) {
    spdlog::error("sync client: cannot open the acknowledgement cursor");
    return;
  }
  auto save_ack =
      cursor_db->prepare("INSERT OR REPLACE INTO sync_state(peer, acked_seq) VALUES('hub', ?1)");
  if (!save_ack.ok()) return;

  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  const CurveKeypair curve = options_.key->curve_keypair();
  const std::string monitor_endpoint = "inproc://sync-monitor";
  try {
    apply_common_options(sock);
    sock.set(zmq::sockopt::routing_id, options_.site);
    sock.set(zmq::sockopt::immediate, 1);
    sock.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(options_.hub_curve.data(), 32));
    sock.set(zmq::sockopt::curve_publickey, zmq::const_buffer(curve.public_key.data(), 32));
    sock.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve.secret_key.data(), 32));
    zmq_socket_monitor(sock.handle(), monitor_endpoint.c_str(),
                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    monitor.connect(monitor_endpoint);
    sock.connect(options_.endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("sync client: {}", e.what());
    return;
  }

  bool welcomed = false;
  uint64_t next = 0;
  std::deque<uint64_t> in_flight;
  auto last_progress = SteadyClock::now();
  auto retry_at = SteadyClock::time_point::min();
  auto hello_at = SteadyClock::now();
  auto sent_at = SteadyClock::now();  // the last batch or heartbeat
  // libzmq never reconnects a session that ended in a protocol error (one corrupted byte
  // on the wire, a failed handshake: zeromq/libzmq#1043, #4196), so after every lost
  // connection the client reconnects itself, backing off while no Welcome comes.
  auto reconnect_at = SteadyClock::time_point::max();
  auto reconnect_backoff = std::chrono::milliseconds(100);
  const auto reconnect_later = [&] {
    if (reconnect_at != SteadyClock::time_point::max()) return;
    reconnect_at = SteadyClock::now() + reconnect_backoff;
    reconnect_backoff = std::min(reconnect_backoff * 2, std::chrono::milliseconds(5000));
  };

  const auto own_seq = [&]() -> uint64_t {
    auto h = replica.head(options_.site);
    return h.ok() ? h->seq : 0;
  };
  // The version spoken: the newest offered until a Welcome agrees on one (or an older hub
  // refuses it).
  uint32_t speaking = std::clamp(options_.max_version, kMinProtocolVersion, kProtocolVersion);
  const auto send = [&](pb::Envelope env) {
    try {
      return sock.send(encode(std::move(env), speaking), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      return false;
    }
  };
  // The node's newest event as it signed it at commit (absent for an empty log).
  const auto signed_head = [&]() -> std::optional<pb::SignedHead> {
    auto h = replica.signed_head(options_.site);
    if (!h.ok() || !*h) return std::nullopt;
    return to_wire(**h);
  };
  // The newest stream event applied, as committed (read through this thread's connection:
  // never waits for an apply holding the store).
  const std::string stream = stream_origin(options_.site);
  const auto delivered_head = [&] { return replica.head(stream); };
  const auto hello = [&] {
    auto delivered = delivered_head();
    pb::Envelope env;
    env.mutable_hello()->set_site(options_.site);
    if (auto h = signed_head()) *env.mutable_hello()->mutable_head() = *h;
    env.mutable_hello()->set_delivered_seq(delivered.ok() ? delivered->seq : 0);
    if (speaking >= 2) env.mutable_hello()->set_max_version(speaking);
    welcomed = false;
    in_flight.clear();
    last_progress = hello_at = SteadyClock::now();
    send(std::move(env));
  };
  // Stops sending for good: the histories disagree, and resending cannot mend that.
  const auto diverge = [&](const std::string& reason, const std::string& zh,
                           const std::string& en) {
    welcomed = false;
    in_flight.clear();
    if (diverged_.exchange(true)) return;
    spdlog::error("sync client: stopped sending to the hub ({}): {}", reason, en);
    if (options_.on_diverged)
      options_.on_diverged(Status::Make(StatusCode::kCorruption, reason, zh, en));
  };
  // The hub's acknowledged head is the node's second witness of its own history.
  const auto check_welcome = [&](const pb::Welcome& w) {
    const uint64_t acked = w.acked_seq();
    const uint64_t own = own_seq();
    if (acked > own)
      return diverge("behind_own_history",
                     "区级中心已确认本站点第" + std::to_string(acked) + "号事件，本地日志仅至第" +
                         std::to_string(own) + "号（可能从旧备份恢复）",
                     "the hub acknowledged event " + std::to_string(acked) +
                         " of this site but the local log ends at " + std::to_string(own) +
                         " (restored from an old backup?)");
    if (acked == 0 || w.acked_hash().size() != 32) return;
    auto mine = replica.hash_at(options_.site, acked);
    if (mine.ok() && std::memcmp(mine->data(), w.acked_hash().data(), 32) != 0)
      diverge("fork",
              "本站点第" + std::to_string(acked) + "号事件与区级中心已确认的不同（历史分叉）",
              "event " + std::to_string(acked) + " differs from the one the hub acknowledged");
  };
  // The head the queued deliveries reach (none queued: check against the store's), and
  // the last DeliveryAck sent.
  std::optional<ChainHead> queued;
  std::map<uint64_t, Hash32> queued_hashes;  // of the events queued and not yet committed
  uint64_t delivery_acked = 0;
  // What the apply thread committed since; forgets the queued head once the queue is
  // empty or was dropped.
  const auto take_applied = [&] {
    std::lock_guard lock(apply_mu_);
    if (apply_failed_ || (jobs_.empty() && !applying_)) {
      queued.reset();
      queued_hashes.clear();
    }
    apply_failed_ = false;
    queued_hashes.erase(queued_hashes.begin(), queued_hashes.upper_bound(applied_));
    return applied_;
  };
  // An event held: queued (checked, not committed yet), else committed.
  const auto held_hash = [&](uint64_t seq) -> Result<Hash32> {
    if (auto it = queued_hashes.find(seq); it != queued_hashes.end()) return it->second;
    return replica.hash_at(stream, seq);
  };
  const auto ack_delivered = [&](uint64_t seq) {
    pb::Envelope ack;
    ack.mutable_delivery_ack()->set_delivered_seq(seq);
    send(std::move(ack));
    delivery_acked = std::max(delivery_acked, seq);
  };
  uint64_t unsaved_ack = 0;
  bool save_failed = false;  // a failure other than the lock taken, warned once until it mends
  const auto save_cursor = [&] {
    if (unsaved_ack == 0) return;
    const Status saved = save_ack->bind(1, static_cast<int64_t>(unsaved_ack)).run();
    if (saved.ok()) {
      unsaved_ack = 0;
      save_failed = false;
    } else if ((sqlite3_errcode(cursor_db->handle()) & 0xff) != SQLITE_BUSY && !save_failed) {
      save_failed = true;
      spdlog::warn("sync client: the acknowledgement cursor was not saved: {}",
                   saved.message_en());
    }
  };
  const auto record_ack = [&](uint64_t seq) {
    if (seq <= acked_) return;
    acked_ = unsaved_ack = seq;
    save_cursor();
  };

  while (!stop_) {
    zmq::pollitem_t items[] = {{sock.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_.fd(), ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 3, std::chrono::milliseconds(welcomed ? 20 : 100));
    } catch (const zmq::error_t&) {
      continue;
    }
    if (items[2].revents & ZMQ_POLLIN) wake_.drain();
    while (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t event, endpoint;
      if (!monitor.recv(event, zmq::recv_flags::dontwait)) break;
      if (event.more()) (void)monitor.recv(endpoint, zmq::recv_flags::dontwait);
      const uint16_t code = *static_cast<const uint16_t*>(event.data());
      if (code == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        connected_ = true;
        // A new connection: the hub may have been upgraded meanwhile.
        speaking = std::clamp(options_.max_version, kMinProtocolVersion, kProtocolVersion);
        hello();
      } else {  // disconnected, or a handshake failed
        connected_ = false;
        welcomed = false;
        in_flight.clear();
        if (docs_) docs_->peer_down("hub");
        reconnect_later();
      }
    }
    if (SteadyClock::now() >= reconnect_at) {
      reconnect_at = SteadyClock::time_point::max();
      try {
        sock.disconnect(options_.endpoint);
      } catch (const zmq::error_t&) {
        // the session is gone already
      }
      try {
        sock.connect(options_.endpoint);
      } catch (const zmq::error_t& e) {
        spdlog::warn("sync client: reconnecting failed: {}", e.what());
        reconnect_later();
      }
    }
    for (int budget = 0; budget < 256; ++budget) {
      zmq::message_t frame;
      try {
        if (!sock.recv(frame, zmq::recv_flags::dontwait)) break;
      } catch (const zmq::error_t&) {
        break;
      }
      auto env = decode(frame);
      if (!env) continue;
      last_answer_ms_ = steady_ms();
      switch (env->msg_case()) {
        case pb::Envelope::kWelcome:
          if (diverged_) break;
          check_welcome(env->welcome());
          if (diverged_) break;
          // A v1 hub names no version: the envelope's is the one.
          // Never above what this node offered, never below the oldest it knows.
          speaking = std::clamp(env->welcome().version() ? env->welcome().version() : env->version(),
                                kMinProtocolVersion,
                                std::clamp(options_.max_version, kMinProtocolVersion, kProtocolVersion));
          agreed_version_ = speaking;
          // The hub's held seq is the truth: resume right after it.
          record_ack(env->welcome().acked_seq());
          next = env->welcome().acked_seq() + 1;
          welcomed = true;
          reconnect_backoff = std::chrono::milliseconds(100);
          last_progress = SteadyClock::now();
          if (docs_) docs_->peer_up("hub");
          break;
        case pb::Envelope::kAck:
          record_ack(env->ack().acked_seq());
          last_progress = SteadyClock::now();
          while (!in_flight.empty() && in_flight.front() <= acked_) in_flight.pop_front();
          break;
        case pb::Envelope::kError:
          if (env->error().code() == pb::Error::GAP) {
            next = env->error().expected_seq();
            in_flight.clear();
          } else if (env->error().code() == pb::Error::BAD_VERSION && !welcomed &&
                     speaking > kMinProtocolVersion) {
            // A hub of an earlier release: say Hello again in the version before.
            --speaking;
            spdlog::info("sync client: the hub does not speak protocol {}; trying {}", speaking + 1,
                         speaking);
            hello();
          } else if (refusal_is_final(env->error().code())) {
            diverge("hub_refused",
                    "区级中心拒收本站点数据（" + pb::Error::Code_Name(env->error().code()) +
                        "：" + env->error().message() + "），本站点历史与中心不一致",
                    "the hub refused this site's events for good (" +
                        pb::Error::Code_Name(env->error().code()) + ": " +
                        env->error().message() + ")");
          } else {
            spdlog::warn("sync client: hub refused: {} {}",
                         pb::Error::Code_Name(env->error().code()), env->error().message());
            welcomed = false;
            retry_at = SteadyClock::now() + std::chrono::seconds(1);
          }
          break;
        case pb::Envelope::kDelivery: {
          take_applied();
          const pb::Batch& batch = env->delivery().batch();
          // Checked against what the queued deliveries reach: a resend overlapping them
          // (after a Hello) is checked against their events and only its rest is new.
          ChainHead have;
          if (queued) {
            have = *queued;
          } else {
            auto delivered = delivered_head();
            if (!delivered.ok()) break;
            have = *delivered;
          }
          BatchCheck check = check_batch(batch, have, options_.hub_signing, held_hash);
          if (!check.ok()) {
            if (check.error != pb::Error::GAP)
              spdlog::warn("sync client: refused a delivery: {}", check.message);
            break;
          }
          if (check.fresh.empty()) {  // all held already: acknowledged once committed
            if (!queued) ack_delivered(have.seq);
            break;
          }
          auto prepared = handler_.prepare(check);
          if (!prepared.ok()) {
            spdlog::warn("sync client: a delivery was not applied: {}",
                         prepared.status().message_en());
            break;
          }
          const Event& tail = check.fresh.back();
          const ChainHead reached{tail.seq, tail.lamport, tail.hash};
          {
            std::lock_guard lock(apply_mu_);
            // The delivery before failed (this one continues it), or the queue is full:
            // the hub sends it again.
            if (apply_failed_ || jobs_.size() >= kMaxQueuedDeliveries) break;
            for (const Event& e : check.fresh) queued_hashes.emplace(e.seq, e.hash);
            jobs_.push_back(Job{std::move(check), std::move(*prepared)});
          }
          apply_cv_.notify_one();
          queued = reached;
          break;
        }
        case pb::Envelope::kDocRequest:
        case pb::Envelope::kDocChunk:
        case pb::Envelope::kDocMissing:
          if (docs_) docs_->received("hub", std::move(*env));
          break;
        case pb::Envelope::kStreamReturnRequest:  // a hub restored from a backup
          send(stream_page(replica, options_.site, env->stream_return_request().from_seq()));
          break;
        case pb::Envelope::kResidentAnswer: {
          std::lock_guard lock(ask_mu_);
          auto it = answers_.find(env->resident_answer().request_id());
          if (it != answers_.end()) it->second = std::move(*env->mutable_resident_answer());
          ask_cv_.notify_all();
          break;
        }
        default:
          break;
      }
    }
    if (const uint64_t applied = take_applied(); applied > delivery_acked)
      ack_delivered(applied);  // the apply thread committed deliveries since
    save_cursor();             // the apply thread wakes this loop after each commit
    if (docs_)  // documents go out beside the batches, a few chunks at a time
      for (auto& [peer, out] : docs_->outbound()) send(std::move(out));
    welcomed_ = welcomed;
    {
      std::vector<pb::Envelope> questions;
      {
        std::lock_guard lock(ask_mu_);
        questions.swap(to_ask_);
      }
      for (pb::Envelope& q : questions) send(std::move(q));  // unanswered ones time out
    }
    const auto now = SteadyClock::now();
    if (!welcomed && connected_ && !diverged_ && retry_at != SteadyClock::time_point::min() && now >= retry_at) {
      retry_at = SteadyClock::time_point::min();
      hello();
    } else if (!welcomed && connected_ && !diverged_ && retry_at == SteadyClock::time_point::min() &&
               now - hello_at > kHelloDeadline) {
      hello();  // no Welcome: the Hello or its answer was lost
    }
    if (!welcomed) continue;
    if (!in_flight.empty() &&
        now - last_progress > std::chrono::milliseconds(options_.ack_timeout_ms)) {
      hello();  // acks stopped: ZeroMQ may have lost frames across a reconnect
      continue;
    }
    const uint64_t head = own_seq();
    while (in_flight.size() < static_cast<size_t>(options_.window) && next <= head) {
      std::vector<Event> events;
      const Status read = log->scan(next, [&](const Event& e) {
        events.push_back(e);
        return events.size() < options_.batch_events;
      });
      if (!read.ok() || events.empty()) break;
      pb::Envelope env;
      *env.mutable_batch() = make_batch(events, *options_.key);
      if (auto h = signed_head()) *env.mutable_batch()->mutable_origin_head() = *h;
      if (!send(std::move(env))) break;
      sent_at = SteadyClock::now();
      in_flight.push_back(events.back().seq);
      next = events.back().seq + 1;
    }
    if (in_flight.empty() && now - sent_at > kHeartbeatEvery) {  // idle: say the link lives
      pb::Envelope env;
      if (auto h = signed_head()) *env.mutable_heartbeat()->mutable_head() = *h;
      else env.mutable_heartbeat();
      send(std::move(env));
      sent_at = now;
    }
  }
  // Stopping: the apply thread may still be committing, so this last save may wait for it.
  (void)cursor_db->exec("PRAGMA busy_timeout=2000");
  save_cursor();
  if (unsaved_ack != 0)
    spdlog::warn("sync client: stopped with the hub's acknowledgement of {} not saved",
                 unsaved_ack);
  zmq_socket_monitor(sock.handle(), nullptr, 0);
}

}  // namespace tongban::sync
