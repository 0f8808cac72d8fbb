// Process plumbing shared by tongban-node and tongban-hub: termination signals handled by
// one thread, and a port file written atomically so tests and scripts can find an
// ephemeral port.
//
// Thread safety: call block_termination_signals() first in main, before any thread starts.
#pragma once

#include <signal.h>

#include <filesystem>
#include <functional>
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
// Splits "host:port"; nullopt for anything else.
std::optional<std::pair<std::string, int>> split_host_port(const std::string& s);

}  // namespace tongban
