// Nobody outside can stop a site: slow-drip and idle connections, huge unauthenticated
// bodies and connection floods against a real tongban-node, while a logged-in clerk keeps
// being served. Attackers connect from 127.0.0.2 (loopback), the clerk from 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "support/node_harness.h"
#include "tongban/tools/process.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

// A TCP connection from `source` to the node; -1 when refused.
int connect_from(const char* source, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Whether the server closed `fd` (reads EOF or a reset within `wait`).
bool closed_by_server(int fd, std::chrono::milliseconds wait) {
  timeval tv{static_cast<time_t>(wait.count() / 1000),
             static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

}  // namespace

TEST_CASE("slow-drip and idle connections do not stop a node's clerks",
          "[integration][node][dos]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  // Many idle and dripping connections from one address: the per-address limit refuses
  // most of them; those admitted cost the node a socket each, not a thread.
  std::vector<int> fds;
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const int fd = connect_from("127.0.0.2", node.port());
    if (fd < 0) {
      ++refused;
      continue;
    }
    fds.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    const std::string header = "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n";
    for (size_t i = 0; !stop && i < header.size(); ++i) {
      for (size_t k = 0; k < fds.size(); k += 2) send_all(fds[k], std::string(1, header[i]));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  // Meanwhile the clerk's day goes on: every request answered.
  for (int i = 0; i < 40; ++i) {
    const HttpReply r =
        node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"}, resident_id(i)));
    REQUIRE(r.status == 201);
    REQUIRE(node.get(clerk, "/api/v1/queue/today").status == 200);
  }
  // A dripping client is cut off by the header deadline (10 s), drip or not.
  std::this_thread::sleep_for(std::chrono::seconds(8));
  CHECK(closed_by_server(fds[0], std::chrono::milliseconds(4000)));
  stop = true;
  dripper.join();
  for (int fd : fds) ::close(fd);
  CHECK(refused + static_cast<int>(fds.size()) == 300);
  CHECK(node.get(clerk, "/api/v1/me").status == 200);
}

TEST_CASE("huge unauthenticated bodies are refused before they are read",
          "[integration][node][dos]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");  // Argon2id: the peak so far includes 64 MiB
  const long peak_before_kb = tools::proc_status_kb(node.pid(), "VmHWM");
  // Ten chunked uploads of 32 MiB each, no token: each is answered 401 from its header and
  // the node never holds the bodies.
  std::vector<std::thread> uploads;
  std::atomic<int> answered_401{0};
  for (int u = 0; u < 10; ++u) {
    uploads.emplace_back([&] {
      const int fd = connect_from("127.0.0.2", node.port());
      if (fd < 0) return;
      send_all(fd,
               "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n");
      const std::string chunk = "100000\r\n" + std::string(0x100000, 'x') + "\r\n";
      for (int i = 0; i < 32 && send_all(fd, chunk); ++i) {
      }
      char buf[512] = {};
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
      if (n > 0 && std::string(buf).find(" 401 ") != std::string::npos) ++answered_401;
      ::close(fd);
    });
  }
  for (auto& t : uploads) t.join();
  CHECK(answered_401 == 10);
  // An authenticated body over the limit is refused as soon as its length is known.
  const HttpReply big = node.post_raw(clerk, "/api/v1/cases", std::string(200 * 1024, ' '));
  CHECK(big.status == 413);
  CHECK(big.body["error"]["code"] == "payload_too_large");
  const long peak_kb = tools::proc_status_kb(node.pid(), "VmHWM");
  INFO("node peak RSS " << peak_before_kb << " KiB before the uploads, " << peak_kb << " after");
  CHECK(peak_kb - peak_before_kb < 16 * 1024);  // 320 MiB were sent
  CHECK(node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"})).status == 201);
}
