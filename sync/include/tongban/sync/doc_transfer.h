// 电子材料 on the wire: the documents a case's events name travel beside the events, in
// sealed chunks, on the same CURVE link (docs/protocol.md, "Documents").
//
// The receiver drives. For each peer it is linked to, it takes the first document it still
// lacks from that peer, asks for a few chunks ahead (DocRequest), stores each chunk
// durably as it comes, in order, and asks for the next; a chunk that is not the one
// expected is dropped (nothing stored). So a transfer resumes after a lost link, a lost
// frame or a crash of either side at the first chunk not held, and a file that is already
// here is never asked for again. A document the peer does not hold yet (DocMissing) is
// asked for again later. The sender answers requests from its store.
//
// Both ends run one DocTransfer beside their socket loop: the loop hands it the doc frames
// and the link's ups and downs, and sends what it queues; a worker thread does the storage
// (a store commits each chunk: the socket loop never waits for a disk), so a 20 MiB file
// delays the events behind it by a few chunks at most.
//
// Thread safety: every public method may be called from any thread (the socket loop, in
// practice); the handler is called from the worker thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tongban/shared/documents.h"
#include "wire.pb.h"

namespace tongban::sync {

// What one end does with documents (its store).
class DocumentHandler {
 public:
  virtual ~DocumentHandler() = default;
  // A sealed chunk this end gives `peer`; nullopt when it does not hold it or `peer` may not
  // have it.
  virtual Result<std::optional<std::string>> chunk_for(const std::string& peer,
                                                       const std::string& case_id,
                                                       const Hash32& hash, uint32_t index) = 0;
  // Documents to fetch from `peer`, first to fetch first.
  virtual Result<std::vector<StoredDocument>> wanted_from(const std::string& peer,
                                                          size_t max) = 0;
  // Stores the next chunk durably (DocumentStore::put_chunk's answers).
  virtual Result<DocumentStore::Put> put(const std::string& case_id, const Hash32& hash,
                                         uint32_t index, const std::string& sealed) = 0;
  // Not to be asked for again for `seconds` (the peer does not hold it yet, or it failed).
  virtual Status defer(const std::string& case_id, const Hash32& hash, int seconds) = 0;
};

struct DocTransferOptions {
  uint32_t window = 2;  // chunks asked for ahead, per peer (each one queued ahead of events)
  std::chrono::milliseconds rescan{1000};   // look for new documents to fetch when idle
  std::chrono::milliseconds stall{10000};   // no chunk for this long: ask again
  int missing_retry_s = 20;                 // the peer did not hold it: ask again after
  int failed_retry_s = 300;                 // a chunk did not check: ask again after
};

class DocTransfer {
 public:
  // `notify` is called (from the worker) whenever frames wait in outbound().
  DocTransfer(DocumentHandler& handler, std::function<void()> notify,
              DocTransferOptions options = {});
  ~DocTransfer();
  DocTransfer(const DocTransfer&) = delete;
  DocTransfer& operator=(const DocTransfer&) = delete;

  void start();
  void stop();

  // The link to `peer` is up (a Welcome, a Hello): fetching (re)starts from what is held.
  void peer_up(const std::string& peer);
  void peer_down(const std::string& peer);
  // New documents may be wanted (events arrived).
  void poke();
  // A DocRequest, DocChunk or DocMissing from `peer` (other frames are ignored).
  void received(const std::string& peer, pb::Envelope env);
  // Frames to send, each to its peer.
  std::vector<std::pair<std::string, pb::Envelope>> outbound();

  struct Stats {
    uint64_t chunks_received = 0, chunks_sent = 0, documents_completed = 0;
    uint64_t chunks_refused = 0;  // out of order, the wrong size, did not open
  };
  Stats stats();

 private:
  struct Peer;
  void loop();
  void handle(const std::string& peer, const pb::Envelope& env);
  void serve(const std::string& peer, const pb::DocRequest& req);
  void take(const std::string& peer, const pb::DocChunk& chunk);
  // Starts on the next document wanted from `peer` (when none is in progress) and asks
  // for chunks up to the window.
  void fetch(const std::string& peer, Peer& p);
  void ask(const std::string& peer, Peer& p);
  void send(const std::string& peer, pb::Envelope env);
  void drop_current(Peer& p);

  DocumentHandler& handler_;
  std::function<void()> notify_;
  DocTransferOptions options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;              // guarded by mu_
  bool poked_ = false;             // guarded by mu_
  std::deque<std::pair<std::string, pb::Envelope>> inbox_;   // guarded by mu_
  std::deque<std::pair<std::string, pb::Envelope>> outbox_;  // guarded by mu_
  std::map<std::string, bool> links_;                         // guarded by mu_: up/down news
  Stats stats_;                                               // guarded by mu_
  std::map<std::string, Peer> peers_;  // worker thread only
};

}  // namespace tongban::sync
