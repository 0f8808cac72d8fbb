// Child processes for integration tests and benchmarks: start a real tongban-node, wait
// for its port file, read its memory, kill -9 it.
//
// Thread safety: a ChildProcess belongs to the thread that spawned it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/status.h"

namespace tongban::tools {

class ChildProcess {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr go to `log_file` (appended).
  // `extra_env` ("NAME=value") is added to this process's environment for the child.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                    const std::filesystem::path& log_file,
                                    const std::vector<std::string>& extra_env = {});

  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_), exit_status_(o.exit_status_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills (SIGKILL) and reaps a still-running child.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // How the child ended (exit code, or 128+signal), once it has been reaped.
  std::optional<int> exit_status() const { return exit_status_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit status (128+signal when killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  void reaped(int status);
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); 0 if unreadable.
long proc_status_kb(pid_t pid, const char* field);
// The CPU time a process has used so far, user and system, in seconds; 0 if unreadable.
double proc_cpu_seconds(pid_t pid);
// The CPU time each thread of a process has used so far, by thread id, seconds (a thread
// that has ended is missing); empty if unreadable.
std::map<pid_t, double> thread_cpu_seconds(pid_t pid);
// The most CPU time one thread used between two readings of thread_cpu_seconds, seconds
// (a thread born between them counts from 0).
double busiest_thread_seconds(const std::map<pid_t, double>& before,
                              const std::map<pid_t, double>& after);

// Polls `file` until it holds a port number, the child exits or the timeout passes.
std::optional<int> wait_for_port_file(const std::filesystem::path& file, ChildProcess& child,
                                      std::chrono::milliseconds timeout);

// The directory of the running executable.
std::filesystem::path self_dir();

}  // namespace tongban::tools
