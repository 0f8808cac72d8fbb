// The node end of replication: a ZeroMQ DEALER with CURVE that streams the node's own log
// to the hub in signed batches with a credit window, resumes from the hub's acknowledged
// seq after every (re)connect, and applies the hub->node stream through a handler.
// The acknowledged seq is kept in node.db (table sync_state) for the bundle export.
//
// Thread safety: start/stop/notify/acked from any thread; one thread owns the socket and
// two SQLite connections of its own (one reads the log; one writes sync_state, never
// waiting for the write lock); a second applies the deliveries the first checked, through
// the handler.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <vector>
#include <filesystem>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <thread>

#include "tongban/shared/crypto.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/doc_transfer.h"
#include "tongban/sync/transport.h"

namespace tongban::sync {

// What a handler made of a checked delivery before it is applied (the node: its cases
// parsed, their keys opened, new cases folded), handed back with it to apply.
struct PreparedDelivery {
  virtual ~PreparedDelivery() = default;
};

// What the node does with the hub->node stream. The client works in two stages: its socket
// thread checks a delivery (signature, chain) and prepares it while its apply thread applies
// the delivery before, so the work that needs no store overlaps the work that writes. What
// was applied the client reads itself: the stream's chain in node.db (origin "HUB><site>").
class DeliveryHandler {
 public:
  virtual ~DeliveryHandler() = default;
  // The work on checked stream events that neither reads nor writes the store; on the
  // client's socket thread. Corruption when they do not parse.
  virtual Result<std::unique_ptr<PreparedDelivery>> prepare(const BatchCheck& checked) = 0;
  // Applies checked stream events durably before returning Ok; on the client's apply
  // thread, one delivery at a time, each continuing the chain of the one before.
  virtual Status apply(const BatchCheck& checked, PreparedDelivery& prepared) = 0;
};

struct ClientOptions {
  std::string endpoint;     // the hub's ROUTER, tcp://host:port
  CurveKey hub_curve{};     // server key (derived from the hub's Ed25519 key)
  PublicKey hub_signing{};  // verifies deliveries
  std::string site;
  const SigningKey* key = nullptr;  // signs batches; its CURVE keys authenticate us
  // The node's node.db. The client's connection never checkpoints it: the store that writes
  // it runs a WalCheckpointer.
  std::filesystem::path db_file;
  // Batches small enough that the hub's group commit can put another site's live events
  // beside one (docs/protocol.md, fairness), enough of them in flight to fill the pipe.
  size_t batch_events = 1000;
  int window = 16;            // batches in flight
  int ack_timeout_ms = 5000;  // resend from the acked seq after this long without progress
  // The node's history and the hub's disagree (the hub holds a different or a longer
  // history of this site, or refused a batch as forged or broken): called once, from the
  // client's thread; the client then stops sending (it still takes deliveries).
  std::function<void(const Status& why)> on_diverged;
  // 电子材料: the node's documents (null: none travel). The client serves the hub the
  // documents it asks for and fetches those the node lacks (sync/doc_transfer.h).
  DocumentHandler* documents = nullptr;
  // The newest protocol version this node offers (kMinProtocolVersion..kProtocolVersion).
  // It speaks the highest the hub also speaks: a hub of the previous release answers a
  // newer Hello with BAD_VERSION, and the node says Hello again one version lower.
  uint32_t max_version = kProtocolVersion;
};

class SyncClient {
 public:
  SyncClient(ClientOptions options, DeliveryHandler& handler);
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  Status start();
  void stop();
  // New local events were committed.
  void notify() { wake_.notify(); }
  // New documents may be wanted (a delivery named some).
  void documents_changed() {
    if (docs_) docs_->poke();
  }
  // Asks the hub about one resident (ResidentQuery; request_id is set here) and waits up
  // to `timeout` for the answer. Unavailable (hub_unreachable, zh/en) while the link is
  // down or no answer comes: the caller goes on without (offline the node proceeds).
  Result<pb::ResidentAnswer> ask_hub(pb::ResidentQuery query, std::chrono::milliseconds timeout);
  // The document transfer's counters (zeros without one).
  DocTransfer::Stats document_stats() { return docs_ ? docs_->stats() : DocTransfer::Stats{}; }

  uint64_t acked() const { return acked_.load(); }
  bool connected() const { return connected_.load(); }
  // The hub answered the last Hello: batches flow.
  bool welcomed() const { return welcomed_.load(); }
  // The protocol version agreed with the hub in the last Welcome (0: none yet).
  uint32_t protocol_version() const { return agreed_version_.load(); }
  bool diverged() const { return diverged_.load(); }
  // Seconds since the hub last answered anything (a Welcome, an Ack, a delivery, an
  // error); nullopt before its first answer. "Connected" alone says only that CURVE
  // completed: a link whose answers stopped is connected and stalled.
  std::optional<int64_t> seconds_since_answer() const;

  // The acknowledged seq recorded in a data dir's node.db (0 if never synced).
  static Result<uint64_t> recorded_ack(const std::filesystem::path& db_file,
                                       const std::string& site);

 private:
  struct State;
  void loop();
  // The apply thread: applies the queued deliveries in order.
  void apply_loop();

  ClientOptions options_;
  DeliveryHandler& handler_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<bool> connected_{false};
  std::atomic<bool> diverged_{false};
  std::atomic<uint32_t> agreed_version_{0};
  std::atomic<int64_t> last_answer_ms_{0};  // steady clock, 0: never
  Wakeup wake_;
  std::unique_ptr<DocTransfer> docs_;
  // Questions for the hub (ask_hub) and their answers: any thread -> the loop, and back.
  std::mutex ask_mu_;
  std::condition_variable ask_cv_;
  uint64_t next_request_ = 1;                           // guarded by ask_mu_
  std::vector<pb::Envelope> to_ask_;                    // guarded by ask_mu_
  std::map<uint64_t, std::optional<pb::ResidentAnswer>> answers_;  // guarded by ask_mu_
  std::atomic<bool> welcomed_{false};
  // Deliveries checked and prepared by the socket thread, applied in order by the apply
  // thread, which hands back the seq each commit reached for the socket thread to
  // acknowledge. A failed apply drops the queue (the hub resends from the last
  // acknowledged) and says so, so the socket thread checks the next against the store.
  struct Job {
    BatchCheck checked;
    std::unique_ptr<PreparedDelivery> prepared;
  };
  std::thread applier_;
  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<Job> jobs_;       // guarded by apply_mu_
  bool applying_ = false;      // guarded by apply_mu_: a job taken from jobs_ is being applied
  bool apply_failed_ = false;  // guarded by apply_mu_: jobs_ was dropped
  uint64_t applied_ = 0;       // guarded by apply_mu_: the seq the last apply committed
};

}  // namespace tongban::sync
