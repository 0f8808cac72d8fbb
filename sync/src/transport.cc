#include "tongban/sync/transport.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace tongban::sync {

void apply_common_options(zmq::socket_t& s) {
  s.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
  s.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIvlMs);
  s.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  s.set(zmq::sockopt::heartbeat_ttl, kHeartbeatTimeoutMs);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 5000);
  s.set(zmq::sockopt::sndhwm, 1000);
  s.set(zmq::sockopt::rcvhwm, 1000);
}

zmq::message_t encode(pb::Envelope env, uint32_t version) {
  env.set_version(version);
  zmq::message_t m(env.ByteSizeLong());
  env.SerializeToArray(m.data(), static_cast<int>(m.size()));
  return m;
}

std::optional<pb::Envelope> decode(const zmq::message_t& frame) {
  pb::Envelope env;
  if (!env.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) return std::nullopt;
  return env;
}

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
Wakeup::~Wakeup() { ::close(fd_); }

void Wakeup::notify() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void Wakeup::drain() {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(fd_, &v, sizeof v);
}

}  // namespace tongban::sync
