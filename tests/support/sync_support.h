// Helpers for tests that run a hub and nodes as real processes: waiting for convergence,
// reading their databases, the reference digest rebuilt from the nodes' own logs, and a
// hand-driven DEALER that speaks the wire protocol with any site's key.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "support/node_harness.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"
#include "tongban/sync/transport.h"

namespace tongban::test {

// A district with a running hub and site S01 replicating to it.
struct LinkedDistrict {
  DistrictDir district;
  HubHarness hub{district};
  NodeHarness s01{district, "S01"};
  LinkedDistrict() {
    hub.start();
    s01.set_hub(hub.sync_endpoint());
    s01.start();
  }
};

// The number in environment variable `name` (soak scripts set them), else `fallback`.
int env_rounds(const char* name, int fallback);
// How many lines of `file` (a daemon's log) contain `needle`.
int count_lines_with(const std::filesystem::path& file, const std::string& needle);
// The whole content of a file ("" if unreadable).
std::string read_file(const std::filesystem::path& file);

// Polls until `done` holds (convergence is asynchronous); fails after `limit`.
template <typename F>
void eventually(F done, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("did not converge");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Db open_db(const std::filesystem::path& file);
// The seq the hub holds for `origin` (read from hub.db); for a site, as far as the hub has
// also projected it (so its case index, 电子监察 and dispatch show it).
uint64_t hub_held(const HubHarness& hub, const std::string& origin);
// The seq the hub has stored for `origin`, projected or not (for checks that nothing more
// was stored).
uint64_t hub_stored(const HubHarness& hub, const std::string& origin);
int64_t count_rows(Db& db, const std::string& sql, const std::string& arg);
void expect_integrity(const std::filesystem::path& file);
// The case index rebuilt from the nodes' own logs, as the hub should hold it.
std::string digest_from_nodes(const std::vector<NodeHarness*>& nodes);
std::string hub_digest(const HubHarness& hub);
// Starts a node of the district on the hub's link; the hub reloads its allow-list.
void join(NodeHarness& node, HubHarness& hub, const std::string& op);
// The sync protocol version a node agreed with the hub in its last Welcome (waits for one).
uint32_t agreed_version(NodeHarness& node);
// The hub's record of one site (GET /sites); FAILs when there is none.
nlohmann::json site_row(HubHarness& hub, const std::string& token, const std::string& site);
// Waits until each of `sites` has applied its whole hub->node stream.
void streams_delivered(HubHarness& hub, const std::string& token,
                       const std::vector<std::string>& sites);
// The case as `daemon` shows it (status 200 REQUIREd).
nlohmann::json case_at(Daemon& daemon, const std::string& token, const std::string& id);
// Submits and accepts an RS001 case for resident n; returns its id.
std::string submit(NodeHarness& node, const std::string& token, int n);

// A hand-driven DEALER speaking the wire protocol with some site's key.
struct RawClient {
  zmq::context_t ctx{1};
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};

  RawClient(const std::string& endpoint, const PublicKey& hub_key, const SigningKey& key,
            const std::string& routing_id);
  void send(const pb::Envelope& env) { sock.send(sync::encode(env), zmq::send_flags::none); }
  void send_raw(const std::string& bytes) { sock.send(zmq::buffer(bytes), zmq::send_flags::none); }
  std::optional<pb::Envelope> recv(int ms = 3000);
};

PublicKey hub_public_key(const DistrictDir& d);
SigningKey site_key(const NodeHarness& n);
pb::Envelope hello(const std::string& site);

}  // namespace tongban::test
