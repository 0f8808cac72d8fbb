#include "tongban/faultproxy/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace tongban::tools {

namespace {

constexpr size_t kBufferLimit = 256 * 1024;  // per direction; reading pauses above it
constexpr auto kTick = std::chrono::milliseconds(5);

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closing with SO_LINGER 0 sends RST instead of FIN.
void reset(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  set_nonblocking(fd);
  return fd;
}

}  // namespace

// One relayed connection: the client side (`near`) and the target side (`far`, -1 once
// half-opened), with what each has sent that the other has not received yet.
struct FaultProxy::Conn {
  int near = -1, far = -1;
  std::string to_far, to_near;
  size_t budget_to_far = 0, budget_to_near = 0;  // throttle tokens
  bool corrupt_to_far = false, corrupt_to_near = false;
  bool closed = false;

  void close_both(bool rst) {
    if (rst) {
      reset(near);
      reset(far);
    } else {
      if (near >= 0) ::close(near);
      if (far >= 0) ::close(far);
    }
    near = far = -1;
    closed = true;
  }
};

Result<std::unique_ptr<FaultProxy>> FaultProxy::start(int target_port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable("fault proxy: socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return Status::Unavailable("fault proxy: bind");
  }
  set_nonblocking(fd);
  return std::unique_ptr<FaultProxy>(new FaultProxy(fd, ntohs(a.sin_port), target_port));
}

FaultProxy::FaultProxy(int listen_fd, int port, int target_port)
    : listen_fd_(listen_fd), port_(port), target_port_(target_port) {
  thread_ = std::thread([this] { run(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void FaultProxy::set_flow(Flow flow, size_t throttle_bytes_per_s) {
  throttle_ = throttle_bytes_per_s;
  flow_ = flow;
}
void FaultProxy::cut() { ++pending_cut_; }
void FaultProxy::half_open() { ++pending_half_open_; }
void FaultProxy::corrupt() { ++pending_corrupt_; }

FaultStats FaultProxy::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void FaultProxy::run() {
  std::vector<std::unique_ptr<Conn>> conns;
  std::mt19937 rng(std::random_device{}());
  char chunk[64 * 1024];
  auto last_tick = std::chrono::steady_clock::now();
  // Reads what `from` has (up to the buffer limit) into `into`; false on EOF or error.
  const auto pull = [&](int from, std::string& into, bool& corrupt_next) {
    while (into.size() < kBufferLimit) {
      const ssize_t n = ::read(from, chunk, std::min(sizeof chunk, kBufferLimit - into.size()));
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      if (corrupt_next) {
        chunk[rng() % static_cast<size_t>(n)] ^= static_cast<char>(1 + rng() % 255);
        corrupt_next = false;
        std::lock_guard lock(stats_mu_);
        ++stats_.corrupted;
      }
      into.append(chunk, static_cast<size_t>(n));
    }
    return true;
  };
  // Writes up to `budget` bytes of `from` to `to`; false on error.
  const auto push = [&](int to, std::string& from, size_t* budget) {
    while (!from.empty() && (!budget || *budget > 0)) {
      const size_t want = budget ? std::min(from.size(), *budget) : from.size();
      const ssize_t n = ::send(to, from.data(), want, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      from.erase(0, static_cast<size_t>(n));
      if (budget) *budget -= static_cast<size_t>(n);
      std::lock_guard lock(stats_mu_);
      stats_.relayed_bytes += static_cast<uint64_t>(n);
    }
    return true;
  };

  while (!stop_) {
    if (pending_cut_.exchange(0) > 0)
      for (auto& conn : conns) {
        conn->close_both(true);
        std::lock_guard lock(stats_mu_);
        ++stats_.cut;
      }
    if (pending_half_open_.exchange(0) > 0)
      for (auto& conn : conns)
        if (conn->far >= 0) {
          reset(conn->far);
          conn->far = -1;
          conn->to_far.clear();
          conn->to_near.clear();
          std::lock_guard lock(stats_mu_);
          ++stats_.half_opened;
        }
    if (pending_corrupt_.exchange(0) > 0)
      for (auto& conn : conns) conn->corrupt_to_far = conn->corrupt_to_near = true;
    std::erase_if(conns, [](const auto& c) { return c->closed; });

    const Flow flow = flow_;
    const auto now = std::chrono::steady_clock::now();
    if (flow == Flow::kThrottle && now - last_tick >= kTick) {
      const size_t per_tick = std::max<size_t>(1, throttle_ * kTick.count() / 1000);
      for (auto& conn : conns) conn->budget_to_far = conn->budget_to_near = per_tick;
      last_tick = now;
    }
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (auto& conn : conns) {
      const bool moving = flow != Flow::kStall;
      short near_ev = 0, far_ev = 0;
      if (conn->far < 0 || (moving && conn->to_far.size() < kBufferLimit)) near_ev |= POLLIN;
      if (moving && !conn->to_near.empty()) near_ev |= POLLOUT;
      if (conn->far >= 0) {
        if (moving && conn->to_near.size() < kBufferLimit) far_ev |= POLLIN;
        if (moving && !conn->to_far.empty()) far_ev |= POLLOUT;
      }
      fds.push_back({conn->near, near_ev, 0});
      fds.push_back({conn->far, far_ev, 0});  // a negative fd is ignored by poll
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(kTick.count())) < 0) continue;
    if (fds[0].revents & POLLIN) {
      for (;;) {
        const int near = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (near < 0) break;
        auto conn = std::make_unique<Conn>();
        conn->near = near;
        conn->far = connect_loopback(target_port_);
        if (conn->far < 0) {
          reset(near);
          continue;
        }
        conns.push_back(std::move(conn));
        std::lock_guard lock(stats_mu_);
        ++stats_.accepted;
      }
    }
    for (size_t i = 0; i < conns.size() && 1 + 2 * i < fds.size(); ++i) {
      Conn& c = *conns[i];
      const short near_rev = fds[1 + 2 * i].revents, far_rev = fds[2 + 2 * i].revents;
      size_t* to_far_budget = flow == Flow::kThrottle ? &c.budget_to_far : nullptr;
      size_t* to_near_budget = flow == Flow::kThrottle ? &c.budget_to_near : nullptr;
      bool ok = true;
      if (near_rev & (POLLIN | POLLHUP | POLLERR)) {
        if (c.far < 0) {  // half-open: swallow whatever the client still sends
          while (::read(c.near, chunk, sizeof chunk) > 0) {
          }
          char probe;
          ok = ::recv(c.near, &probe, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
        } else {
          ok = pull(c.near, c.to_far, c.corrupt_to_far);
        }
      }
      if (ok && c.far >= 0 && (far_rev & (POLLIN | POLLHUP | POLLERR)))
        ok = pull(c.far, c.to_near, c.corrupt_to_near);
      if (ok && flow != Flow::kStall && c.far >= 0) {
        ok = push(c.far, c.to_far, to_far_budget) && push(c.near, c.to_near, to_near_budget);
      }
      if (!ok) c.close_both(false);  // one side closed: close the other (FIN), as TCP would
    }
  }
  for (auto& conn : conns) conn->close_both(true);
}

}  // namespace tongban::tools
