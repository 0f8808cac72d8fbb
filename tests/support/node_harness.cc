#include "support/node_harness.h"

#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tongban/shared/validation.h"

namespace tongban::test {

namespace {

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpReply to_reply(const httplib::Result& r) {
  if (!r) return {};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

httplib::Headers auth(const std::string& token) {
  return token.empty() ? httplib::Headers{}
                       : httplib::Headers{{"Authorization", "Bearer " + token}};
}

void provision(const std::vector<std::string>& args) {
  ::setenv("TONGBAN_TEST_PASSWORD", kTestPassword, 1);
  std::vector<std::string> all = {"provision", "--password-env", "TONGBAN_TEST_PASSWORD"};
  all.insert(all.end(), args.begin(), args.end());
  std::string out;
  const int rc = run_cli(all, &out);
  INFO(out);
  REQUIRE(rc == 0);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::string* output) {
  std::string cmd = std::string(TONGBAN_CLI_BIN);
  for (const std::string& a : args) cmd += " '" + a + "'";
  return run_command(cmd + " 2>&1", output);
}

DistrictDir::DistrictDir() {
  std::filesystem::copy(TONGBAN_SITE_CONFIG_DIR, config(),
                        std::filesystem::copy_options::recursive);
}

Daemon::Daemon(std::filesystem::path config, std::filesystem::path data)
    : config_(std::move(config)), data_(std::move(data)) {}

Daemon::~Daemon() {
  if (process_ && process_->running()) {
    process_->signal(SIGTERM);
    process_->wait(std::chrono::seconds(20));
  }
}

void Daemon::start() {
  std::filesystem::remove(port_file());
  auto child = tools::ChildProcess::spawn(command(), data_ / "daemon.log", env_);
  REQUIRE(child.ok());
  process_.emplace(std::move(*child));
  auto port = tools::wait_for_port_file(port_file(), *process_, std::chrono::seconds(30));
  if (!port) {
    const auto status = process_->exit_status();
    FAIL("daemon did not start (" << (status ? "exit status " + std::to_string(*status) : std::string("still running"))
                                  << "): " << read_all(data_ / "daemon.log"));
  }
  port_ = *port;
  started();
}

int Daemon::start_refused(std::string* output) {
  std::filesystem::remove(port_file());
  const auto log = data_ / "refused.log";
  std::filesystem::remove(log);
  auto child = tools::ChildProcess::spawn(command(), log);
  REQUIRE(child.ok());
  const auto status = child->wait(std::chrono::seconds(30));
  *output = read_all(log);
  INFO(*output);
  REQUIRE(status);
  CHECK_FALSE(std::filesystem::exists(port_file()));
  return *status;
}

void Daemon::stop() {
  process_->signal(SIGTERM);
  REQUIRE(process_->wait(std::chrono::seconds(20)) == 0);
}

void Daemon::kill9() {
  process_->signal(SIGKILL);
  REQUIRE(process_->wait(std::chrono::seconds(20)) == 128 + SIGKILL);
}

bool Daemon::running() { return process_ && process_->running(); }

std::string Daemon::login(const std::string& user) {
  const HttpReply r = post("", "/api/v1/login", {{"username", user}, {"password", kTestPassword}});
  INFO(r.body.dump());
  REQUIRE(r.status == 200);
  return r.body["token"];
}

HttpReply Daemon::get(const std::string& token, const std::string& path) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  return to_reply(c.Get(path, auth(token)));
}

void expect_error(const HttpReply& r, int status, const std::string& code) {
  INFO(r.body.dump());
  CHECK(r.status == status);
  CHECK(r.body["error"]["code"] == code);
  CHECK_FALSE(r.body["error"]["message"].get<std::string>().empty());
  CHECK_FALSE(r.body["error"]["message_en"].get<std::string>().empty());
}

HttpReply Daemon::post(const std::string& token, const std::string& path,
                       const nlohmann::json& body) {
  return post_raw(token, path, body.dump());
}

HttpReply Daemon::post_raw(const std::string& token, const std::string& path,
                           const std::string& body, const char* content_type) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  return to_reply(c.Post(path, auth(token), body, content_type));
}

NodeHarness::NodeHarness(std::string site)
    : Daemon({}, {}), own_dir_(std::make_unique<TempDir>()), site_(std::move(site)) {
  config_ = own_dir_->path() / "site-config";
  data_ = own_dir_->path() / "data";
  std::filesystem::copy(TONGBAN_SITE_CONFIG_DIR, config_, std::filesystem::copy_options::recursive);
  provision({"--site-config", config_.string(), "--site", site_, "--data", data_.string(),
             "--demo-staff", "--key-file", key_file().string(), "--district-key",
             (own_dir_->path() / "district.key").string()});
}

NodeHarness::NodeHarness(const DistrictDir& district, std::string site)
    : Daemon(district.config(), district.root() / site), site_(std::move(site)) {
  provision({"--site-config", config_.string(), "--site", site_, "--data", data_.string(),
             "--demo-staff", "--key-file", key_file().string(), "--district-key",
             district.district_key().string()});
}

std::vector<std::string> NodeHarness::command() {
  std::vector<std::string> cmd = {
      TONGBAN_NODE_BIN, "--site-config", config_.string(),     "--site",          site_, "--data",
      data_.string(),   "--port-file",   port_file().string(), "--sweep-seconds", "1",
      "--key-file",     key_file().string()};
  if (hub_.empty()) {
    cmd.push_back("--offline");
  } else {
    cmd.push_back("--hub");
    cmd.push_back(hub_);
  }
  cmd.insert(cmd.end(), extra_.begin(), extra_.end());
  return cmd;
}

uint64_t NodeHarness::head_seq() {
  const HttpReply r = get("", "/api/v1/healthz");
  REQUIRE(r.status == 200);
  return r.body["head_seq"];
}

HubHarness::HubHarness(const DistrictDir& district)
    : Daemon(district.config(), district.root() / "HUB") {
  provision({"--hub", "--site-config", config_.string(), "--data", data_.string(), "--key-file",
             key_file().string(), "--district-key", district.district_key().string()});
}

std::vector<std::string> HubHarness::command() {
  // Restarts keep the sync port, so nodes reconnect to the same endpoint.
  const std::string sync =
      sync_port_ ? "tcp://127.0.0.1:" + std::to_string(sync_port_) : "tcp://127.0.0.1:0";
  std::filesystem::remove(data_ / "sync.port");
  std::vector<std::string> cmd = {TONGBAN_HUB_BIN,
          "--site-config",
          config_.string(),
          "--data",
          data_.string(),
          "--sync",
          sync,
          "--port-file",
          port_file().string(),
          "--sync-port-file",
          (data_ / "sync.port").string(),
          "--key-file",
          key_file().string()};
  cmd.insert(cmd.end(), extra_.begin(), extra_.end());
  return cmd;
}

void HubHarness::started() {
  std::ifstream in(data_ / "sync.port");
  REQUIRE(in >> sync_port_);
}

nlohmann::json application(const std::string& item, const std::vector<std::string>& provided,
                           const std::string& id_number) {
  return {{"item_code", item},
          {"applicant", {{"name", "张三"}, {"id_number", id_number}, {"phone", "13912345678"}}},
          {"provided", provided}};
}

HttpReply act(NodeHarness& node, const std::string& token, const std::string& id,
              const std::string& action, const nlohmann::json& body) {
  return node.post(token, "/api/v1/cases/" + id + "/" + action, body);
}

std::string resident_id(int n) {
  char base[24];
  std::snprintf(base, sizeof base, "61011319%02d%02d%02d%03d", 60 + n % 40, 1 + n % 12, 1 + n % 28,
                n % 1000);
  return std::string(base, 17) + resident_id_check_char(std::string_view(base, 17));
}

}  // namespace tongban::test
