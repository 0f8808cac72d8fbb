#include "support/node_harness.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tongban/shared/validation.h"

namespace tongban::test {

NodeHarness::NodeHarness(std::string site) : site_(std::move(site)) {
  config_ = dir_.path() / "site-config";
  data_ = dir_.path() / "data";
  std::filesystem::copy(TONGBAN_SITE_CONFIG_DIR, config_, std::filesystem::copy_options::recursive);
  ::setenv("TONGBAN_TEST_PASSWORD", kPassword, 1);
  std::string out;
  const int rc = cli({"provision", "--site-config", config_.string(), "--site", site_, "--data",
                      data_.string(), "--demo-staff", "--password-env", "TONGBAN_TEST_PASSWORD"},
                     &out);
  INFO(out);
  REQUIRE(rc == 0);
}

NodeHarness::~NodeHarness() {
  if (process_ && process_->running()) stop();
}

void NodeHarness::start() {
  const auto port_file = data_ / "test.port";
  std::filesystem::remove(port_file);
  auto child = tools::ChildProcess::spawn(
      {TONGBAN_NODE_BIN, "--site-config", config_.string(), "--site", site_, "--data",
       data_.string(), "--port-file", port_file.string(), "--sweep-seconds", "1"},
      dir_.path() / "node.log");
  REQUIRE(child.ok());
  process_.emplace(std::move(*child));
  auto port = tools::wait_for_port_file(port_file, *process_, std::chrono::seconds(30));
  if (!port) {
    std::ifstream log(dir_.path() / "node.log");
    std::stringstream ss;
    ss << log.rdbuf();
    FAIL("tongban-node did not start: " << ss.str());
  }
  port_ = *port;
}

void NodeHarness::stop() {
  process_->signal(SIGTERM);
  REQUIRE(process_->wait(std::chrono::seconds(20)) == 0);
}

void NodeHarness::kill9() {
  process_->signal(SIGKILL);
  REQUIRE(process_->wait(std::chrono::seconds(20)) == 128 + SIGKILL);
}

bool NodeHarness::running() { return process_ && process_->running(); }

int NodeHarness::cli(const std::vector<std::string>& args, std::string* output) {
  std::string cmd = std::string(TONGBAN_CLI_BIN);
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {
HttpReply to_reply(const httplib::Result& r) {
  if (!r) return {};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}
httplib::Headers auth(const std::string& token) {
  return token.empty() ? httplib::Headers{}
                       : httplib::Headers{{"Authorization", "Bearer " + token}};
}
}  // namespace

std::string NodeHarness::login(const std::string& user) {
  const HttpReply r = post("", "/api/v1/login", {{"username", user}, {"password", kPassword}});
  INFO(r.body.dump());
  REQUIRE(r.status == 200);
  return r.body["token"];
}

HttpReply NodeHarness::get(const std::string& token, const std::string& path) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  return to_reply(c.Get(path, auth(token)));
}

HttpReply NodeHarness::post(const std::string& token, const std::string& path,
                            const nlohmann::json& body) {
  return post_raw(token, path, body.dump());
}

HttpReply NodeHarness::post_raw(const std::string& token, const std::string& path,
                                const std::string& body) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  return to_reply(c.Post(path, auth(token), body, "application/json"));
}

uint64_t NodeHarness::head_seq() {
  const HttpReply r = get("", "/api/v1/healthz");
  REQUIRE(r.status == 200);
  return r.body["head_seq"];
}

nlohmann::json application(const std::string& item, const std::vector<std::string>& provided,
                           const std::string& id_number) {
  return {{"item_code", item},
          {"applicant", {{"name", "张三"}, {"id_number", id_number}, {"phone", "13912345678"}}},
          {"provided", provided}};
}

std::string resident_id(int n) {
  char base[24];
  std::snprintf(base, sizeof base, "61011319%02d%02d%02d%03d", 60 + n % 40, 1 + n % 12, 1 + n % 28,
                n % 1000);
  return std::string(base, 17) + resident_id_check_char(std::string_view(base, 17));
}

}  // namespace tongban::test
