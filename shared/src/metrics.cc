#include "tongban/shared/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "tongban/shared/db.h"

namespace tongban::metrics {

namespace {

// A label value with \, " and line breaks escaped, as the format asks.
void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) out += "NaN";
  else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
  else if (v == std::floor(v) && std::fabs(v) < 1e15) out += std::to_string(static_cast<int64_t>(v));
  else {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    out += buf;
  }
}

}  // namespace

Text& Text::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;  // our own text: one line, no backslashes
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
  return *this;
}

Text& Text::sample(std::string_view name, double value, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      append_escaped(out_, v);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  append_number(out_, value);
  out_ += '\n';
  return *this;
}

void Cached::write(Text& t, const std::function<void(Text&)>& fill) {
  std::lock_guard lock(mu_);  // a second scrape meanwhile waits for this one's result
  const auto now = std::chrono::steady_clock::now();
  if (!have_ || now - at_ >= period_) {
    Text fresh;
    fill(fresh);
    text_ = fresh.str();
    at_ = now;
    have_ = true;
  }
  t.append(text_);
}

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++counts[i];
  ++count;
  sum += seconds;
}

void Histogram::write(Text& t, std::string_view name, const Labels& labels) const {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += counts[i];
    Labels with = labels;
    std::string le;
    if (i == kBounds.size()) {
      le = "+Inf";
    } else {
      append_number(le, kBounds[i]);
    }
    with.emplace_back("le", le);
    t.sample(bucket, static_cast<double>(cumulative), with);
  }
  t.sample(std::string(name) + "_sum", sum, labels);
  t.sample(std::string(name) + "_count", static_cast<double>(count), labels);
}

void HttpMetrics::observe(const std::string& route, std::string_view method, int status,
                          double seconds) {
  const std::string m = method == "GET" || method == "POST" ? std::string(method) : "other";
  if (status < 100 || status > 599) status = 0;
  std::lock_guard lock(mu_);
  ++requests_[{route, m, status}];
  latency_[{route, m}].observe(seconds);
}

void HttpMetrics::write(Text& t, int open_connections, uint64_t refused_connections) const {
  std::lock_guard lock(mu_);
  t.family("tongban_http_requests_total", "counter",
           "HTTP requests answered, by route pattern, method and status.");
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    t.sample("tongban_http_requests_total", static_cast<double>(n),
             {{"route", route}, {"method", method}, {"status", std::to_string(status)}});
  }
  t.family("tongban_http_request_duration_seconds", "histogram",
           "Time from a request's last header byte to its answer being ready.");
  for (const auto& [key, h] : latency_)
    h.write(t, "tongban_http_request_duration_seconds", {{"route", key.first}, {"method", key.second}});
  t.family("tongban_http_connections_open", "gauge", "HTTP connections open now.");
  t.sample("tongban_http_connections_open", open_connections);
  t.family("tongban_http_connections_refused_total", "counter",
           "HTTP connections refused at the total or per-address limit.");
  t.sample("tongban_http_connections_refused_total", static_cast<double>(refused_connections));
}

namespace {

// Fields of /proc/self/stat after the command name: utime is field 14, stime 15,
// starttime 22 (1-based over the whole line).
std::vector<std::string> self_stat() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;  // fields[0] is field 3 (state)
}

double boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void write_process(Text& t) {
  const long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
  long pages_total = 0, pages_resident = 0;
  {
    std::ifstream statm("/proc/self/statm");
    statm >> pages_total >> pages_resident;
  }
  t.family("process_resident_memory_bytes", "gauge", "Resident memory of this process.");
  t.sample("process_resident_memory_bytes", static_cast<double>(pages_resident) * page);
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++fds;
    closedir(d);
    --fds;  // the directory being read
  }
  t.family("process_open_fds", "gauge", "Open file descriptors (sockets, databases, logs).");
  t.sample("process_open_fds", fds);
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  t.family("process_max_fds", "gauge", "The open-file limit in force (soft).");
  t.sample("process_max_fds", static_cast<double>(lim.rlim_cur));
  const auto stat = self_stat();
  if (stat.size() > 19 && ticks > 0) {
    t.family("process_cpu_seconds_total", "counter", "CPU time used, user and system.");
    t.sample("process_cpu_seconds_total",
             (std::stod(stat[11]) + std::stod(stat[12])) / static_cast<double>(ticks));
    t.family("process_start_time_seconds", "gauge", "When this process started (Unix time).");
    t.sample("process_start_time_seconds",
             boot_time() + std::stod(stat[19]) / static_cast<double>(ticks));
  }
}

void write_sqlite(Text& t, const std::vector<std::pair<std::string, std::filesystem::path>>& files) {
  t.family("tongban_sqlite_wal_bytes", "gauge",
           "Size of a database's write-ahead log (grows when checkpoints fall behind).");
  for (const auto& [name, file] : files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file.string() + "-wal", ec);
    t.sample("tongban_sqlite_wal_bytes", ec ? 0.0 : static_cast<double>(size), {{"db", name}});
  }
  const CheckpointTotals c = checkpoint_totals();
  t.family("tongban_sqlite_checkpoints_total", "counter", "WAL checkpoints run.");
  t.sample("tongban_sqlite_checkpoints_total", static_cast<double>(c.count));
  t.family("tongban_sqlite_checkpoint_seconds_total", "counter", "Time spent in WAL checkpoints.");
  t.sample("tongban_sqlite_checkpoint_seconds_total", c.seconds);
  t.family("tongban_sqlite_checkpoint_last_seconds", "gauge", "How long the last checkpoint took.");
  t.sample("tongban_sqlite_checkpoint_last_seconds", c.last_seconds);
}

void write_build_info(Text& t, std::string_view version, int protocol) {
  t.family("tongban_build_info", "gauge", "The running version and sync protocol version.");
  t.sample("tongban_build_info", 1,
           {{"version", std::string(version)}, {"protocol", std::to_string(protocol)}});
}

}  // namespace tongban::metrics
