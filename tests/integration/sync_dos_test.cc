// Nobody outside can stop replication: the allow-list is not at the mercy of the file
// system at handshake time, and a node whose Hello was lost says it again.
#include <catch2/catch.hpp>
#include <filesystem>
#include <zmq.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/sync/transport.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("a key file that cannot be read revokes nobody", "[integration][sync][dos]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), s02(district, "S02");  // S02: provisioned, not running
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  const std::string clerk = s01.login("clerk");
  submit(s01, clerk, 1);
  eventually([&] { return hub_held(hub, "S01") == 2; });
  // S02's key file turns unreadable (here: a directory in its place; in the attack, the
  // hub's descriptors exhausted). A new handshake of S02 is still admitted: the allow-list
  // was read at start, not now.
  const auto key_file = district.config() / "keys" / "S02.pub";
  const auto saved = district.root() / "S02.pub.saved";
  std::filesystem::rename(key_file, saved);
  std::filesystem::create_directory(key_file);
  RawClient raw(hub.sync_endpoint(), hub_public_key(district), site_key(s02), "S02");
  raw.send(hello("S02"));
  const auto welcome = raw.recv(5000);
  REQUIRE(welcome);
  CHECK(welcome->has_welcome());
  // An explicit reload fails and says so; the old list stays and S01 keeps syncing.
  const std::string op = hub.login("operator");
  const HttpReply reload = hub.post(op, "/api/v1/keys/reload", json::object());
  CHECK(reload.status == 503);
  CHECK(reload.body["error"]["code"] == "keys_not_reloaded");
  submit(s01, clerk, 2);
  eventually([&] { return hub_held(hub, "S01") == 4; });
  raw.send(hello("S02"));
  const auto again = raw.recv(5000);
  REQUIRE(again);
  CHECK(again->has_welcome());
  std::filesystem::remove(key_file);
  std::filesystem::rename(saved, key_file);
  const HttpReply fixed = hub.post(op, "/api/v1/keys/reload", json::object());
  CHECK(fixed.status == 200);
  CHECK(fixed.body["allowed_sites"] == 2);
}

namespace {

// A hub played by hand: a CURVE ROUTER with the district hub's key (provisioned by
// `hub`, which is not started), reading and answering one envelope at a time.
struct HandHub {
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::string endpoint;

  explicit HandHub(const HubHarness& hub) {
    auto hub_key = SigningKey::load(hub.data() / "hub.key");
    REQUIRE(hub_key.ok());
    const CurveKeypair curve = hub_key->curve_keypair();
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::curve_server, 1);
    router.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve.secret_key.data(), 32));
    router.bind("tcp://127.0.0.1:*");
    endpoint = router.get(zmq::sockopt::last_endpoint);
  }
  // The next envelope and its sender's routing id, or nullopt after `ms`.
  std::optional<std::pair<std::string, pb::Envelope>> next(int ms) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(ms));
    if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t id, payload;
    (void)router.recv(id);
    (void)router.recv(payload);
    auto env = sync::decode(payload);
    REQUIRE(env);
    return std::pair{id.to_string(), *env};
  }
  void send(const std::string& to, const pb::Envelope& env, uint32_t version) {
    router.send(zmq::buffer(to), zmq::send_flags::sndmore);
    router.send(sync::encode(env, version), zmq::send_flags::none);
  }
};

}  // namespace

TEST_CASE("a node whose Hello was lost says it again", "[integration][sync][dos]") {
  DistrictDir district;
  HubHarness hub(district);  // provisioned for its key; a hand-driven ROUTER plays the hub
  HandHub hand(hub);
  NodeHarness s01(district, "S01");
  s01.set_hub(hand.endpoint);
  s01.start();
  submit(s01, s01.login("clerk"), 1);
  auto first = hand.next(10000);
  REQUIRE(first);
  CHECK(first->second.has_hello());  // dropped: never answered
  auto second = hand.next(10000);
  REQUIRE(second);
  REQUIRE(second->second.has_hello());
  pb::Envelope welcome;
  welcome.mutable_welcome()->set_acked_seq(0);
  hand.send(second->first, welcome, sync::kProtocolVersion);
  auto batch = hand.next(10000);
  REQUIRE(batch);
  CHECK(batch->second.batch().events_size() == 2);
}

TEST_CASE("a node steps down to a version-1 hub and syncs in version 1", "[integration][sync][versions]") {
  DistrictDir district;
  HubHarness hub(district);
  HandHub hand(hub);
  NodeHarness s01(district, "S01");
  s01.set_hub(hand.endpoint);
  s01.start();
  submit(s01, s01.login("clerk"), 1);
  // A version-1 hub refuses every newer envelope, as the first release did.
  std::optional<std::pair<std::string, pb::Envelope>> hello;
  for (uint32_t offered = sync::kProtocolVersion; offered > 1; --offered) {
    hello = hand.next(10000);
    REQUIRE(hello);
    REQUIRE(hello->second.has_hello());
    CHECK(hello->second.version() == offered);
    pb::Envelope refused;
    refused.mutable_error()->set_code(pb::Error::BAD_VERSION);
    refused.mutable_error()->set_message("protocol version " + std::to_string(offered));
    hand.send(hello->first, refused, 1);
  }
  hello = hand.next(10000);
  REQUIRE(hello);
  REQUIRE(hello->second.has_hello());
  CHECK(hello->second.version() == 1);
  // Its Welcome has no version field: the envelope's is the one.
  pb::Envelope welcome;
  welcome.mutable_welcome()->set_acked_seq(0);
  hand.send(hello->first, welcome, 1);
  auto batch = hand.next(10000);
  REQUIRE(batch);
  CHECK(batch->second.version() == 1);
  CHECK(batch->second.batch().events_size() == 2);
  CHECK(agreed_version(s01) == 1);
}
