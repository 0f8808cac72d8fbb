#include "tongban/shared/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>

namespace tongban {

Status lock_data_dir(const std::filesystem::path& data_dir) {
  const std::filesystem::path file = data_dir / "daemon.lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot open " + file.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Conflict("data_dir_in_use",
                            "数据目录正被另一个进程使用：" + data_dir.string() +
                                "。同一数据目录只能运行一个节点或中心",
                            "the data directory is in use by another process: " +
                                data_dir.string() + " (one daemon per data directory)");
  }
  return Status::Ok();  // the descriptor stays open, holding the lock, until exit
}


void private_files_only() { ::umask(077); }

sigset_t block_termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

std::thread watch_termination(sigset_t signals, std::function<void(int)> on_signal) {
  return std::thread([signals, on_signal = std::move(on_signal)] {
    int sig = 0;
    sigwait(&signals, &sig);
    on_signal(sig);
  });
}

Status write_port_file(const std::filesystem::path& file, int port) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return Status::Unavailable("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  return ec ? Status::Unavailable("cannot rename to " + file.string()) : Status::Ok();
}

Result<long> raise_descriptor_limit(long wanted, long needed) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return Status::Unavailable("getrlimit failed");
  const rlim_t target = std::min<rlim_t>(static_cast<rlim_t>(wanted), lim.rlim_max);
  if (lim.rlim_cur < target) {
    lim.rlim_cur = target;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
    (void)getrlimit(RLIMIT_NOFILE, &lim);
  }
  const long now = static_cast<long>(lim.rlim_cur);
  if (now < needed)
    return Status::Make(StatusCode::kUnavailable, "descriptor_limit",
                        "可打开文件数上限过低（" + std::to_string(now) + "，至少需要 " +
                            std::to_string(needed) + "），请调高 LimitNOFILE / ulimit -n",
                        "the open-file limit is " + std::to_string(now) + ", below the " +
                            std::to_string(needed) + " needed: raise LimitNOFILE / ulimit -n");
  return now;
}

void notify_systemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const socklen_t size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr),
             size) < 0)
    spdlog::warn("sd_notify {}: {}", state, std::strerror(errno));
  close(fd);
}

Result<std::optional<TlsFiles>> tls_files(const std::string& host,
                                          const std::filesystem::path& data_dir,
                                          const std::string& cert_flag, const std::string& key_flag) {
  if (cert_flag.empty() != key_flag.empty())
    return Status::InvalidArgument("https_required", "--tls-cert 与 --tls-key 须同时给出",
                                   "--tls-cert and --tls-key go together");
  if (!cert_flag.empty()) return std::optional<TlsFiles>(TlsFiles{cert_flag, key_flag});
  const TlsFiles in_data{data_dir / "tls.crt", data_dir / "tls.key"};
  const bool cert = std::filesystem::exists(in_data.cert), key = std::filesystem::exists(in_data.key);
  if (cert && key) return std::optional<TlsFiles>(in_data);
  if (cert || key)  // half a rotation: never fall back to plain HTTP silently
    return Status::InvalidArgument(
        "https_required", "数据目录中只有 tls.crt 或 tls.key 之一，请重新签发证书",
        "only one of tls.crt and tls.key is in the data directory: issue the certificate again");
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  if (!loopback)
    return Status::InvalidArgument(
        "https_required",
        "监听本机以外的地址（" + host + "）须使用 HTTPS：请用 tongban cert issue 签发证书到数据目录，"
        "或给出 --tls-cert/--tls-key",
        "listening beyond loopback (" + host + ") needs HTTPS: issue a certificate into the data "
        "directory with `tongban cert issue`, or give --tls-cert/--tls-key");
  return std::optional<TlsFiles>();
}

std::optional<std::pair<std::string, int>> split_host_port(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int p = std::stoi(port);
  if (p > 65535) return std::nullopt;
  return std::pair{s.substr(0, colon), p};
}

}  // namespace tongban
