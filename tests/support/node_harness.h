// A real tongban-node process for integration tests: a temp data dir, a private copy of
// site-config, provisioning through the real `tongban provision`, an ephemeral port, and
// an HTTP client that logs in as any of the demo accounts.
#pragma once

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "tongban/tools/process.h"

namespace tongban::test {

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused or reset)
  nlohmann::json body;
};

class NodeHarness {
 public:
  static constexpr const char* kPassword = "test-password-2026";

  explicit NodeHarness(std::string site = "S01");
  ~NodeHarness();

  // Starts tongban-node and waits for its port; REQUIREs success.
  void start();
  void stop();   // SIGTERM and wait
  void kill9();  // SIGKILL and wait
  bool running();

  // Runs the `tongban` CLI; returns its exit code, stdout+stderr into *output.
  int cli(const std::vector<std::string>& args, std::string* output = nullptr);

  std::string login(const std::string& user);
  HttpReply get(const std::string& token, const std::string& path);
  HttpReply post(const std::string& token, const std::string& path, const nlohmann::json& body);
  HttpReply post_raw(const std::string& token, const std::string& path, const std::string& body);
  uint64_t head_seq();

  const std::filesystem::path& data() const { return data_; }
  const std::filesystem::path& config() const { return config_; }
  const std::string& site() const { return site_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  std::string site_;
  std::filesystem::path config_, data_;
  std::optional<tools::ChildProcess> process_;
  int port_ = 0;
};

// An application body for POST /api/v1/cases.
nlohmann::json application(const std::string& item, const std::vector<std::string>& provided,
                           const std::string& id_number = "11010519491231002X");
// A valid GB 11643 number for the n-th synthetic resident.
std::string resident_id(int n);

}  // namespace tongban::test
