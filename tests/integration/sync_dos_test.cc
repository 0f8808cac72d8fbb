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

TEST_CASE("a node whose Hello was lost says it again", "[integration][sync][dos]") {
  DistrictDir district;
  HubHarness hub(district);  // provisioned for its key; a hand-driven ROUTER plays the hub
  auto hub_key = SigningKey::load(hub.data() / "hub.key");
  REQUIRE(hub_key.ok());
  const CurveKeypair curve = hub_key->curve_keypair();
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::curve_server, 1);
  router.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve.secret_key.data(), 32));
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);

  NodeHarness s01(district, "S01");
  s01.set_hub(endpoint);
  s01.start();
  submit(s01, s01.login("clerk"), 1);
  const auto next = [&](int ms) -> std::optional<std::pair<std::string, pb::Envelope>> {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(ms));
    if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t id, payload;
    (void)router.recv(id);
    (void)router.recv(payload);
    auto env = sync::decode(payload);
    REQUIRE(env);
    return std::pair{id.to_string(), *env};
  };
  auto first = next(10000);
  REQUIRE(first);
  CHECK(first->second.has_hello());  // dropped: never answered
  auto second = next(10000);
  REQUIRE(second);
  REQUIRE(second->second.has_hello());
  pb::Envelope welcome;
  welcome.mutable_welcome()->set_acked_seq(0);
  router.send(zmq::buffer(second->first), zmq::send_flags::sndmore);
  router.send(sync::encode(welcome), zmq::send_flags::none);
  auto batch = next(10000);
  REQUIRE(batch);
  CHECK(batch->second.batch().events_size() == 2);
}
