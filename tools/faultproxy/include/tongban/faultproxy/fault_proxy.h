// A TCP proxy on loopback that puts faults between a node and the hub: it relays every
// connection it accepts to a target port, and on command cuts the connections (RST), stalls
// them, throttles them, half-opens them (the far side vanishes while the near side stays
// open and unanswered, so only heartbeats can tell) or flips a byte in the stream. Used by
// the fault tests (tests/integration/fault_proxy_test.cc) and the soak run (tools/soak.sh).
//
// Thread safety: the relay runs on its own thread; every public method may be called from
// any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "tongban/shared/status.h"

namespace tongban::tools {

// What the proxy does to the traffic until told otherwise.
enum class Flow {
  kRelay,     // pass everything
  kStall,     // pass nothing, keep every connection open
  kThrottle,  // pass about `throttle_bytes_per_s` each way per connection
};

struct FaultStats {
  uint64_t accepted = 0;     // connections
  uint64_t cut = 0;          // connections reset
  uint64_t half_opened = 0;  // connections whose far side was dropped silently
  uint64_t corrupted = 0;    // bytes flipped
  uint64_t relayed_bytes = 0;
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (an ephemeral port) and relays to 127.0.0.1:`target_port`.
  static Result<std::unique_ptr<FaultProxy>> start(int target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  void set_flow(Flow flow, size_t throttle_bytes_per_s = 64 * 1024);
  // Resets every open connection (both sides see ECONNRESET).
  void cut();
  // Drops the target side of every open connection; the client side stays open, its data
  // read and discarded, nothing sent back, until the client gives up on it.
  void half_open();
  // Flips one byte of the next chunk relayed in each direction.
  void corrupt();
  FaultStats stats() const;

 private:
  struct Conn;
  FaultProxy(int listen_fd, int port, int target_port);
  void run();

  const int listen_fd_, port_, target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<Flow> flow_{Flow::kRelay};
  std::atomic<size_t> throttle_{64 * 1024};
  std::atomic<int> pending_cut_{0}, pending_half_open_{0}, pending_corrupt_{0};
  mutable std::mutex stats_mu_;
  FaultStats stats_;
  std::thread thread_;
};

}  // namespace tongban::tools
