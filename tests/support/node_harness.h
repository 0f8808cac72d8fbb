// Real tongban-node and tongban-hub processes for integration tests: temp data dirs, a
// private copy of site-config (shared by a hub and its nodes), provisioning through the
// real `tongban provision`, ephemeral ports, and HTTP clients that log in.
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

inline constexpr const char* kTestPassword = "test-password-2026";

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused or reset)
  nlohmann::json body;
};

// Checks a refusal: the status, the error code and both messages (zh and en) present.
void expect_error(const HttpReply& r, int status, const std::string& code);

// Runs the `tongban` CLI; returns its exit code, stdout+stderr into *output.
int run_cli(const std::vector<std::string>& args, std::string* output = nullptr);

// A temp dir holding one copy of site-config for a hub and its nodes.
class DistrictDir {
 public:
  DistrictDir();
  const std::filesystem::path& root() const { return dir_.path(); }
  std::filesystem::path config() const { return dir_.path() / "site-config"; }
  // The district's blind-index key, as every site and the hub are provisioned with it.
  std::filesystem::path district_key() const { return dir_.path() / "district.key"; }

 private:
  TempDir dir_;
};

// One daemon process; subclasses say how to provision and start it.
class Daemon {
 public:
  virtual ~Daemon();
  void start();  // REQUIREs that it comes up
  // Starts it expecting a refusal: REQUIREs that it exits within 30 s without serving;
  // returns the exit status, and what it printed into *output.
  int start_refused(std::string* output);
  void stop();   // SIGTERM, wait, expect exit 0
  void kill9();  // SIGKILL, wait
  bool running();

  std::string login(const std::string& user);
  HttpReply get(const std::string& token, const std::string& path);
  HttpReply post(const std::string& token, const std::string& path, const nlohmann::json& body);
  HttpReply post_raw(const std::string& token, const std::string& path, const std::string& body,
                     const char* content_type = "application/json");
  int cli(const std::vector<std::string>& args, std::string* output = nullptr) {
    return run_cli(args, output);
  }

  const std::filesystem::path& data() const { return data_; }
  // The daemon's key-encryption key file: beside its data dir, never inside.
  std::filesystem::path key_file() const {
    return data_.parent_path() / (data_.filename().string() + ".kek");
  }
  const std::filesystem::path& config() const { return config_; }
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  // Environment ("NAME=value") added for the daemon from its next start.
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  // Arguments added to the daemon's command from its next start.
  void set_extra_args(std::vector<std::string> args) { extra_ = std::move(args); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 protected:
  Daemon(std::filesystem::path config, std::filesystem::path data);
  virtual std::vector<std::string> command() = 0;
  virtual void started() {}
  std::filesystem::path port_file() const { return data_ / "test.port"; }

  std::filesystem::path config_, data_;
  std::optional<tools::ChildProcess> process_;
  std::vector<std::string> env_, extra_;
  int port_ = 0;
};

// Constructor tag: the daemon's data directory (and its KEK beside it) is already in the
// district's root — a fixture copied there — and is not provisioned again.
struct Existing {};

class NodeHarness : public Daemon {
 public:
  static constexpr const char* kPassword = kTestPassword;
  // A standalone node with its own site-config copy (offline).
  explicit NodeHarness(std::string site = "S01");
  // A node of `district` (provisioned there, keys in its site-config).
  NodeHarness(const DistrictDir& district, std::string site);
  NodeHarness(const DistrictDir& district, std::string site, Existing)
      : Daemon(district.config(), district.root() / site), site_(std::move(site)) {}

  // Connect to this hub on the next start (otherwise --offline).
  void set_hub(std::string endpoint) { hub_ = std::move(endpoint); }
  uint64_t head_seq();
  const std::string& site() const { return site_; }

 private:
  std::vector<std::string> command() override;
  std::unique_ptr<TempDir> own_dir_;
  std::string site_;
  std::string hub_;
};

class HubHarness : public Daemon {
 public:
  explicit HubHarness(const DistrictDir& district);
  HubHarness(const DistrictDir& district, Existing) : Daemon(district.config(), district.root() / "HUB") {}
  std::string sync_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(sync_port_); }
  int sync_port() const { return sync_port_; }

 private:
  std::vector<std::string> command() override;
  void started() override;
  int sync_port_ = 0;
};

// An application body for POST /api/v1/cases.
nlohmann::json application(const std::string& item, const std::vector<std::string>& provided,
                           const std::string& id_number = "11010519491231002X");
// A valid GB 11643 number for the n-th synthetic resident.
std::string resident_id(int n);
// POST /api/v1/cases/{id}/{action}: one case command at a node.
HttpReply act(NodeHarness& node, const std::string& token, const std::string& id,
              const std::string& action, const nlohmann::json& body = nlohmann::json::object());

}  // namespace tongban::test
