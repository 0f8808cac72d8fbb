// Helpers shared by the benchmarks: provisioning sites and the hub in a scratch district,
// filling a site's log through the real case path, starting daemons, timing.
//
// Thread safety: single-threaded setup code.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tongban/shared/keyring.h"
#include "tongban/shared/status.h"
#include "tongban/tools/process.h"

namespace tongban::bench {

using SteadyClock = std::chrono::steady_clock;
double ms_since(SteadyClock::time_point t);
// The p-quantile (0..1) of `v`, 0 for none.
double percentile(std::vector<double> v, double p);

// A valid GB 11643 number for the n-th synthetic applicant, born in one of the 40 years
// from `born_from`.
std::string resident_id(int n, int born_from = 1960);

// Key (data/site.key), public key into config/keys, node.db, and a "clerk" account.
// Copies the site-config directory `given` to `to`. The default "site-config" is looked for
// in the working directory, then in the source tree beside the build (build/tools/tongban
// → ../../site-config). NotFound (zh/en) when there is none: never an uncaught exception.
Status copy_site_config(const std::string& given, const std::filesystem::path& to);

// The key-encryption key file of a bench data dir: beside it (data + ".kek"), never inside.
std::filesystem::path kek_file(const std::filesystem::path& data);
// The keyring of a provisioned bench data dir, unlocked with kek_file(data).
Result<Keyring> bench_keyring(const std::filesystem::path& data, const std::string& owner);

// Key, keyring (district key beside `config`), public keys into config/keys, node.db and a
// "clerk" account.
Status provision_site(const std::filesystem::path& config, const std::filesystem::path& data,
                      const std::string& site, const std::string& password);
// Key (data/hub.key), public key into config/keys, hub.db, and an "operator" account.
Status provision_hub(const std::filesystem::path& config, const std::filesystem::path& data,
                     const std::string& password);

// What the cases fill_log writes become.
enum class Fill {
  kDecided,       // submitted, accepted, review, decided, license (a center's 5 events)
  kOpen,          // submitted, accepted: open, so they can move
  kBriefRefusal,  // submitted, refused with a two-character reason (电子监察's brief_reason)
};
// Appends about `events` events to a site's log through decide/evolve/projections, in
// transactions of ~1000 events (the bulk-import path), dated 2026-03-02. Returns the log head.
Result<uint64_t> fill_log(const std::filesystem::path& config, const std::filesystem::path& data,
                          const std::string& site, long events, bool progress,
                          Fill fill = Fill::kDecided);

struct Daemon {
  tools::ChildProcess process;
  int port = 0;
};
// Spawns `argv` (which must write its port to `port_file`) and waits for the port.
Result<Daemon> start_daemon(const std::vector<std::string>& argv, const std::filesystem::path& port_file,
                            const std::filesystem::path& log);

// One row per transaction, synchronous=FULL, 400-byte rows.
double raw_commits_per_s(const std::filesystem::path& dir);
// 1000 rows per transaction, synchronous=FULL, rows of `row_bytes`, keyed like the event table.
double raw_batched_appends_per_s(const std::filesystem::path& dir, size_t row_bytes, int rows);
// DEALER -> ROUTER over loopback TCP with CURVE, messages of `bytes`.
double raw_curve_msgs_per_s(size_t bytes, int messages);

// The newest seq of `origin` held in a database (chain_head), read with its own connection.
uint64_t held_seq(const std::filesystem::path& db_file, const std::string& origin);

}  // namespace tongban::bench
