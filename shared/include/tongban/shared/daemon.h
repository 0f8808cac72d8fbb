// Process plumbing shared by tongban-node and tongban-hub: termination signals handled by
// one thread, and a port file written atomically so tests and scripts can find an
// ephemeral port.
//
// Thread safety: call block_termination_signals() first in main, before any thread starts.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "tongban/shared/status.h"

namespace tongban {

// Files this process creates (databases, WAL, keys, bundles, logs) are readable by its
// user only: they hold residents' data and keys. Call first in main.
void private_files_only();
// Blocks SIGINT/SIGTERM in this thread (and all started later) and ignores SIGPIPE.
sigset_t block_termination_signals();
// A thread that waits for SIGINT/SIGTERM and calls `on_signal` once.
std::thread watch_termination(sigset_t signals, std::function<void(int)> on_signal);
// Writes `port` to `file` via a rename, so readers never see a partial number.
Status write_port_file(const std::filesystem::path& file, int port);
// Raises the soft limit on open descriptors towards `wanted` (never above the hard limit)
// and returns the limit now in force; Unavailable when it stays below `needed` (every
// connection, database file and socket of the daemon takes one).
Result<long> raise_descriptor_limit(long wanted, long needed);
// Takes an exclusive lock (flock) on data_dir/daemon.lock for the rest of the process's
// life: a second daemon (or provisioning) on the same data directory is refused with
// Conflict (data_dir_in_use, zh/en). The lock ends with the process, even on kill -9.
Status lock_data_dir(const std::filesystem::path& data_dir);
// Tells systemd (Type=notify units) how the daemon stands: "READY=1" once it serves,
// "STOPPING=1" when a stop begins. Does nothing outside systemd ($NOTIFY_SOCKET unset).
void notify_systemd(const std::string& state);
// Where a daemon's HTTPS certificate chain and key are: the flags when given, else
// tls.crt and tls.key in its data directory when both exist (`tongban cert issue
// --out-dir DATA`); none otherwise. Plain HTTP is for loopback only: InvalidArgument
// (https_required, zh/en) for any other listening address without them, and for one
// flag without the other.
struct TlsFiles {
  std::filesystem::path cert, key;
};
Result<std::optional<TlsFiles>> tls_files(const std::string& host,
                                          const std::filesystem::path& data_dir,
                                          const std::string& cert_flag, const std::string& key_flag);
// Splits "host:port"; nullopt for anything else.
std::optional<std::pair<std::string, int>> split_host_port(const std::string& s);

// Runs `step` now and then every `period` until destroyed, on its own thread; a step that
// returns true has more to do and runs again at once. (The node's sweeps, the hub's
// 电子监察.)
class Periodic {
 public:
  Periodic(std::chrono::seconds period, std::function<bool()> step)
      : period_(period), step_(std::move(step)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Periodic() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      const bool more = step_();
      lock.lock();
      if (!more) cv_.wait_for(lock, period_, [this] { return stop_; });
    }
  }
  std::chrono::seconds period_;
  std::function<bool()> step_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tongban
