// GET /metrics on node and hub: the Prometheus text exposition format (version 0.0.4).
// Every series is listed in docs/api.md ("Metrics"). Label values come from bounded sets
// only (route patterns, status codes, site ids of the site-config, rule names), never from
// what a caller sends, so nobody can grow the answer or the maps behind it.
//
// Thread safety: Text is single-threaded (one per scrape); HttpMetrics and the process-wide
// checkpoint figures (db.h) are safe from any thread.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace tongban::metrics {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// One scrape's answer.
class Text {
 public:
  // Starts a family (# HELP and # TYPE); the samples that follow belong to it.
  // `type` is counter, gauge or histogram.
  Text& family(std::string_view name, std::string_view type, std::string_view help);
  Text& sample(std::string_view name, double value, const Labels& labels = {});
  // Families written into another Text (Cached).
  Text& append(const std::string& text) {
    out_ += text;
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Cumulative counts of observations in seconds, as a Prometheus histogram.
struct Histogram {
  static constexpr std::array<double, 12> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    2.5,   10};
  std::array<uint64_t, kBounds.size() + 1> counts{};  // the last is +Inf
  uint64_t count = 0;
  double sum = 0;

  void observe(double seconds);
  // `name`_bucket{le=…}, `name`_sum and `name`_count with `labels` on each.
  void write(Text& t, std::string_view name, const Labels& labels) const;
};

// Series that cost a scan under a store's lock (cases by clock, alerts): computed at most
// once per `period` however often /metrics is asked (it needs no login), and served from
// the last computation in between.
class Cached {
 public:
  explicit Cached(std::chrono::seconds period) : period_(period) {}
  void write(Text& t, const std::function<void(Text&)>& fill);

 private:
  const std::chrono::seconds period_;
  std::mutex mu_;
  bool have_ = false;                              // guarded by mu_
  std::chrono::steady_clock::time_point at_;       // guarded by mu_
  std::string text_;                               // guarded by mu_
};

// HTTP requests answered: by route (the registered pattern, "unmatched" for none), method
// (GET, POST, other) and status.
class HttpMetrics {
 public:
  void observe(const std::string& route, std::string_view method, int status, double seconds);
  // With the server's open connections and those it refused at a limit.
  void write(Text& t, int open_connections, uint64_t refused_connections) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // guarded by mu_
  std::map<std::pair<std::string, std::string>, Histogram> latency_;        // guarded by mu_
};

// process_resident_memory_bytes, process_open_fds, process_max_fds,
// process_cpu_seconds_total, process_start_time_seconds (Linux /proc).
void write_process(Text& t);
// tongban_sqlite_wal_bytes{db} for each named database file, and the checkpoints this
// process ran (count, seconds in all, the last one's seconds).
void write_sqlite(Text& t, const std::vector<std::pair<std::string, std::filesystem::path>>& files);
// tongban_build_info{version,protocol} 1.
void write_build_info(Text& t, std::string_view version, int protocol);

}  // namespace tongban::metrics
