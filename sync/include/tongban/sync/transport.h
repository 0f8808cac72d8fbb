// ZeroMQ plumbing shared by the sync server (hub) and client (node): socket options every
// network-facing socket gets, envelope encoding, and an eventfd to wake a polling thread.
//
// Thread safety: a socket belongs to one thread; Wakeup::notify may be called from any.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "tongban/shared/status.h"
#include "wire.pb.h"

namespace tongban::sync {

// The sync protocol versions this build speaks (docs/protocol.md "Versions"): a node and a
// hub agree on the highest both speak in Hello/Welcome, so sites upgrade one at a time.
//   1  the first release.
//   2  Hello.max_version and Welcome.version: the negotiation itself.
//   3  StreamReturnRequest/StreamReturn: a hub restored from a backup takes back the
//      directives its sites applied after it (docs/protocol.md "Backups").
constexpr uint32_t kProtocolVersion = 3;
constexpr uint32_t kMinProtocolVersion = 1;

// Largest frame accepted from the network (ZMQ_MAXMSGSIZE): a batch of 2,000 events of
// a few hundred bytes fits many times over.
constexpr int64_t kMaxMessageBytes = 16 * 1024 * 1024;
constexpr int kHeartbeatIvlMs = 1000;
constexpr int kHeartbeatTimeoutMs = 5000;
// What one message should carry at most to cross a 2 Mbit/s link within
// kHeartbeatTimeoutMs: the hub cuts its stream's deliveries near it, and holds a single
// stream event it writes whole (a catalog) to it.
constexpr size_t kSlowLinkMessageBytes = 1024 * 1024;

// Maxmsgsize, heartbeats, linger 0, reconnect backoff 100 ms .. 5 s.
void apply_common_options(zmq::socket_t& s);

// The origin id of the hub->node stream for `site` (its own chain, signed by the hub).
inline std::string stream_origin(const std::string& site) { return "HUB>" + site; }

// Serializes `env` with the protocol version set (the one agreed with the peer).
zmq::message_t encode(pb::Envelope env, uint32_t version = kProtocolVersion);
// Nullopt for a frame that does not parse.
std::optional<pb::Envelope> decode(const zmq::message_t& frame);

// An eventfd another thread can poll alongside sockets.
class Wakeup {
 public:
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  void notify();
  void drain();
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace tongban::sync
