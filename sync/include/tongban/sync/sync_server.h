// The hub end of replication: a ZeroMQ ROUTER with CURVE, a ZAP handler that admits only
// the sites whose keys are in site-config, and the protocol of docs/protocol.md: hello /
// welcome, batches checked and acknowledged, and each node's hub->node stream delivered
// with its own cursor. The allow-list is read at start and on reload() only: a handshake
// never touches the files, so nobody can empty the list by exhausting descriptors; a
// reload that fails keeps the old list. Revoking a site (removing keys/<site>.pub, then
// reload) refuses its next handshake and drops its frames at once.
//
// Ingest is a pipeline: the socket loop decodes and checks each batch (hashes, chain,
// signature) against the head of what it has already handed on, while a store thread
// commits the batches waiting — of every site, fairly — in one durable transaction (group
// commit).
// A batch is acknowledged only after its transaction commits; if one fails, every batch
// of its sites still in the pipeline is refused and those sites resume from the durable
// head.
//
// Thread safety: start/stop/wake_streams/reload from any thread. The socket loop, the store
// thread and the ZAP handler run on their own threads; SyncHandler::store is called from
// the store thread only, every other SyncHandler method from the loop thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "tongban/shared/crypto.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/doc_transfer.h"
#include "tongban/sync/transport.h"

namespace tongban::sync {

// What the hub does with verified traffic.
class SyncHandler {
 public:
  virtual ~SyncHandler() = default;
  // The highest contiguous event held for `origin`, and the hash of one held event.
  virtual Result<ChainHead> held(const std::string& origin) = 0;
  virtual Result<Hash32> held_hash(const std::string& origin, uint64_t seq) = 0;
  // `site` sent an event at `seq` that differs from the one held: its history forked (a
  // restored backup, a rewritten log). Nothing of that batch is stored or acknowledged.
  virtual void diverged(const std::string& site, uint64_t seq, const std::string& message) = 0;
  // Stores the checked runs of `group`, in order, in one durable transaction
  // (synchronous=FULL) before returning. A run that no longer continues its site's stored
  // chain (a bundle of that site was imported meanwhile) is left out, with every later run
  // of that site in the group: the answer names those sites, and the other sites' runs are
  // stored. On an error nothing of the group is stored.
  virtual Result<std::set<std::string>> store(const std::vector<StoreRun>& group) = 0;
  // Whether checked new events may be stored (called on the sync loop thread, before
  // they are queued): an error refuses the batch as MALFORMED, nothing stored.
  virtual Status admit(const std::vector<Event>& fresh) {
    (void)fresh;
    return Status::Ok();
  }
  // Work that follows storage (the hub's projection), done on the store thread in steps of
  // about `budget` events: whenever nothing waits to be stored, and one step every
  // ServerOptions::project_every while sites keep the store busy. True while work remains.
  virtual Result<bool> project(size_t budget) {
    (void)budget;
    return false;
  }
  // An authenticated frame from `site` (any: the link lives), with its head claim when one
  // came and its signature verified with the site's key.
  virtual void contact(const std::string& site, const std::optional<HeadClaim>& head) = 0;
  // The hub->node stream of `site`: its newest seq, a run of it, and the node's cursor.
  virtual Result<uint64_t> stream_head(const std::string& site) = 0;
  // Up to `max` events from `from`, stopping before the one that would take their
  // wire_size() sum past `max_bytes` (the first always comes).
  virtual Result<std::vector<Event>> stream_read(const std::string& site, uint64_t from,
                                                 size_t max, size_t max_bytes) = 0;
  // The cursor: called from the socket loop, so it must not wait for storage (the hub
  // notes it, and writes it in the work that follows storage: project()).
  virtual Status stream_acked(const std::string& site, uint64_t seq) = 0;
  // A hub restored from a backup (docs/protocol.md "Backups") waits, before it writes to
  // any stream or its own log again, for every site to say how far it applied its stream.
  // Whether it still waits for `site`:
  virtual bool awaits_return(const std::string& site) {
    (void)site;
    return false;
  }
  // `site`'s answer: `returned` is the part of its stream the hub lost (empty: none), each
  // event checked already against the hub's own key and the hub's held stream, `signature`
  // the hub's over its last. True once stored durably; false when the hub no longer waited
  // for it (nothing stored); an error leaves the hub waiting.
  virtual Result<bool> returned(const std::string& site, const std::vector<Event>& returned,
                                const Signature& signature) {
    (void)site, (void)returned, (void)signature;
    return false;
  }
  // One person across the district: what the hub holds of a resident, asked by `site`
  // (the hub records a break-glass lookup before it answers).
  virtual pb::ResidentAnswer resident_query(const std::string& site, const pb::ResidentQuery& q) {
    (void)site;
    pb::ResidentAnswer a;
    a.set_request_id(q.request_id());
    a.set_error("not_supported");
    return a;
  }
};

struct ServerOptions {
  std::string endpoint = "tcp://127.0.0.1:*";
  CurveKeypair curve;               // the hub's CURVE keys
  const SigningKey* key = nullptr;  // signs hub->node deliveries
  // Site id -> Ed25519 public key of every site allowed now (read at start and on reload).
  std::function<Result<std::map<std::string, PublicKey>>()> load_keys;
  size_t delivery_batch = 2000;  // directives per delivery (fewer past 1 MiB)
  // Group commit: at most this many events per transaction (one run may exceed it alone),
  // taken from every waiting site in turn, the site with the least waiting first. While
  // live traffic flows (a run of at most live_run_events seen in the last 2 s) groups stay
  // at group_events, so a live site's few events wait for at most two short commits;
  // otherwise (catch-ups only) they grow to bulk_group_events for throughput.
  size_t group_events = 1000;
  size_t bulk_group_events = 8000;
  size_t live_run_events = 100;
  // What follows storage (SyncHandler::project): steps of idle_project_events when the
  // store has been idle for 50 ms and no live site sent for 2 s (else busy_project_events);
  // while it is busy, one step of busy_project_events every project_every, so that work
  // never stalls and storing keeps most of the thread.
  size_t idle_project_events = 2000;
  size_t busy_project_events = 500;
  std::chrono::milliseconds project_every{250};
  // A site with more events than this checked but not yet stored is refused (UNAVAILABLE)
  // until the store catches up; a node's own window keeps an honest one well below it.
  size_t site_queue_events = 65536;
  int delivery_window = 4;
  // 电子材料: the hub's documents (null: none travel). The server fetches from each site
  // the documents its events name and serves sites the documents of their cases
  // (sync/doc_transfer.h).
  DocumentHandler* documents = nullptr;
  // The newest protocol version this hub speaks (kMinProtocolVersion..kProtocolVersion):
  // lower it to run as the previous release would, e.g. while its nodes are upgraded.
  uint32_t max_version = kProtocolVersion;
};

class SyncServer {
 public:
  SyncServer(ServerOptions options, SyncHandler& handler);
  ~SyncServer();
  SyncServer(const SyncServer&) = delete;
  SyncServer& operator=(const SyncServer&) = delete;

  // Binds the ZAP handler, then the ROUTER; returns the bound endpoint.
  Result<std::string> start();
  void stop();
  // New hub->node stream events are waiting.
  void wake_streams() { wake_.notify(); }
  // The document transfer's counters (zeros without one).
  DocTransfer::Stats document_stats() { return docs_ ? docs_->stats() : DocTransfer::Stats{}; }
  // Reads the allow-list again; on failure the old one stays and the error says why.
  // Returns how many sites are allowed.
  Result<size_t> reload();
  // Messages refused since start, by reason: pb::Error's code names (GAP excluded: a
  // resend, not a fault) and "CURVE_DENIED" for handshakes from unknown keys. For /metrics.
  std::map<std::string, uint64_t> refusals() const;

 private:
  struct Peers;
  struct Session;
  struct Ingest;
  struct Stored;
  void zap_loop();
  void router_loop();
  void store_loop();
  void on_batch(const std::string& routing_id, const std::string& site, const pb::Batch& batch);
  void on_stored();
  // The site's ingest state, its durable head read from the handler the first time;
  // nullptr when storage fails.
  Ingest* ingest_of(const std::string& site);
  // Acknowledges everything of `site` up to `seq` (durable).
  void ack(const std::string& site, uint64_t seq);
  // `head` as a verified claim of `site`, or nullopt (absent, malformed, badly signed).
  std::optional<HeadClaim> claim(const std::string& site, const pb::SignedHead* head);
  void handle(const std::string& routing_id, const std::string& site, const pb::Envelope& env);
  void reply(const std::string& routing_id, pb::Envelope env);
  void refuse(const std::string& routing_id, const std::string& site, pb::Error::Code code,
              const std::string& message, uint64_t expected = 0);
  void pump(Session& session);
  // Records a site's stream cursor (handler_.stream_acked) and has the store thread write it.
  void stream_acked(const std::string& site, uint64_t seq);
  // Taking back the stream a restored hub lost: ask `session`'s node for its applied
  // stream from `from`, and one page of its answer.
  void ask_return(Session& session, uint64_t from);
  // After the site's Hello (and again while the hub still waits): answered when the node
  // applied nothing beyond the hub's stream, else the return begins.
  void begin_return(Session& session);
  void on_returned(Session& session, const pb::StreamReturn& page);
  std::shared_ptr<const Peers> peers();
  void warn_throttled(const std::string& kind, const std::string& message);


  ServerOptions options_;
  SyncHandler& handler_;
  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> router_;
  std::unique_ptr<zmq::socket_t> zap_;
  std::thread zap_thread_, loop_thread_, store_thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex refused_mu_;
  std::map<std::string, uint64_t> refused_;  // guarded by refused_mu_; keys: a fixed set
  void count_refusal(const std::string& reason);
  Wakeup wake_;
  std::mutex peers_mu_;
  std::shared_ptr<const Peers> peers_;
  std::map<std::string, std::unique_ptr<Session>> sessions_;  // by site; loop thread only
  std::map<std::string, Ingest> ingest_;                      // by site; loop thread only
  // Loop -> store thread: checked runs; store -> loop: their outcomes (then stored_wake_).
  std::mutex store_mu_;
  std::condition_variable store_cv_;
  std::map<std::string, std::deque<StoreRun>> to_store_;  // by site, in chain order
  bool cursors_noted_ = false;  // a stream cursor waits to be written (project())
  std::deque<Stored> stored_;
  std::vector<StoreRun> spent_;  // stored runs, freed by the loop
  std::set<std::string> poisoned_;  // sites whose queued runs must fail (an earlier one did)
  Wakeup stored_wake_;
  struct Warning {
    std::chrono::steady_clock::time_point logged_at{};
    uint64_t suppressed = 0;
  };
  // Loop -> resident thread: residents asked about (a lookup reads the district's index
  // under the store's lock: never on the loop, where it would hold every site's batches);
  // resident thread -> loop: the answers (then answers_wake_). Bounded: a site asking
  // faster than they are answered is told "busy" at once.
  static constexpr size_t kMaxQueuedQuestions = 256;
  void resident_loop();
  std::thread resident_thread_;
  std::mutex questions_mu_;
  std::condition_variable questions_cv_;
  std::deque<std::pair<std::string, pb::ResidentQuery>> questions_;  // (site, query)
  std::deque<std::pair<std::string, pb::Envelope>> answers_;         // (site, answer)
  Wakeup answers_wake_;
  std::unique_ptr<DocTransfer> docs_;
  std::mutex warn_mu_;  // the ZAP and loop threads both warn
  std::map<std::string, Warning> warnings_;
};

}  // namespace tongban::sync
