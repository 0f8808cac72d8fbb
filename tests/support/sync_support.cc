#include "support/sync_support.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include "tongban/shared/config.h"
#include "tongban/shared/projector.h"
#include "tongban/sync/replica.h"

namespace tongban::test {

using nlohmann::json;

int env_rounds(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

int count_lines_with(const std::filesystem::path& file, const std::string& needle) {
  std::ifstream in(file);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Db open_db(const std::filesystem::path& file) {
  auto db = Db::open(file);
  REQUIRE(db.ok());
  return std::move(*db);
}

namespace {
uint64_t stored_seq(Db& hub_db, const std::string& origin) {
  auto head = sync::Replica(hub_db).head(origin);
  REQUIRE(head.ok());
  return head->seq;
}
}  // namespace

uint64_t hub_stored(const HubHarness& hub, const std::string& origin) {
  Db db = open_db(hub.data() / "hub.db");
  return stored_seq(db, origin);
}

uint64_t hub_held(const HubHarness& hub, const std::string& origin) {
  Db db = open_db(hub.data() / "hub.db");
  const uint64_t stored = stored_seq(db, origin);
  if (origin.find('>') != std::string::npos || origin == "HUB") return stored;
  auto projected = db.prepare("SELECT coalesce(max(seq), 0) FROM projected WHERE origin=?1");
  REQUIRE(projected.ok());
  projected->bind(1, origin);
  REQUIRE(*projected->step());
  return std::min<uint64_t>(stored, static_cast<uint64_t>(projected->int_at(0)));
}

int64_t count_rows(Db& db, const std::string& sql, const std::string& arg) {
  auto s = db.prepare(sql);
  REQUIRE(s.ok());
  s->bind(1, arg);
  REQUIRE(*s->step());
  return s->int_at(0);
}

void expect_integrity(const std::filesystem::path& file) {
  Db db = open_db(file);
  auto check = db.prepare("PRAGMA integrity_check");
  REQUIRE(check.ok());
  REQUIRE(*check->step());
  CHECK(check->text_at(0) == "ok");
}

// The case index rebuilt from the nodes' own logs, as the hub should hold it.
std::string digest_from_nodes(const std::vector<NodeHarness*>& nodes) {
  TempDir dir;
  Db index_db = open_db(dir.path() / "index.db");
  REQUIRE(index_db
              .migrate({CaseIndex::schema(), CaseIndex::ownership_schema(),
                        CaseIndex::supervision_schema()})
              .ok());
  CaseProjector projector(index_db, sample_district());
  for (NodeHarness* n : nodes) {
    Db db = open_db(n->data() / "node.db");
    auto events = sync::Replica(db).read(n->site(), 1, 100000000);
    REQUIRE(events.ok());
    std::map<std::string, CaseState> states;
    for (const sync::Event& e : *events) REQUIRE(CaseProjector::fold(states[e.case_id], e).ok());
    for (const auto& [id, s] : states) REQUIRE(projector.index(s).ok());
  }
  return *projector.cases().digest();
}

std::string hub_digest(const HubHarness& hub) {
  Db db = open_db(hub.data() / "hub.db");
  return *CaseIndex(db).digest();
}

void join(NodeHarness& node, HubHarness& hub, const std::string& op) {
  node.set_hub(hub.sync_endpoint());
  node.start();
  REQUIRE(hub.post(op, "/api/v1/keys/reload", json::object()).status == 200);
  // Joined once the hub welcomed it (its first handshakes, before the reload, were denied).
  (void)agreed_version(node);
}

uint32_t agreed_version(NodeHarness& node) {
  uint32_t v = 0;
  eventually([&] {
    const HttpReply r = node.get("", "/api/v1/healthz");
    if (r.status != 200 || !r.body["sync"].is_object()) return false;
    v = r.body["sync"].value("protocol_version", 0u);
    return v != 0;
  });
  return v;
}

json site_row(HubHarness& hub, const std::string& token, const std::string& site) {
  const HttpReply r = hub.get(token, "/api/v1/sites");
  REQUIRE(r.status == 200);
  for (const json& s : r.body["sites"])
    if (s["site"] == site) return s;
  FAIL("no site " << site);
  return {};
}

void streams_delivered(HubHarness& hub, const std::string& token,
                       const std::vector<std::string>& sites) {
  for (const std::string& site : sites)
    eventually([&] {
      const json row = site_row(hub, token, site);
      return row["delivered_seq"] == row["stream_head"];
    });
}

json case_at(Daemon& daemon, const std::string& token, const std::string& id) {
  const HttpReply r = daemon.get(token, "/api/v1/cases/" + id);
  INFO(r.body.dump());
  REQUIRE(r.status == 200);
  return r.body;
}

std::string submit(NodeHarness& node, const std::string& token, int n) {
  json app = application("RS001", {"ID", "PHOTO"}, resident_id(n));
  app["accept"] = json::object();
  const HttpReply r = node.post(token, "/api/v1/cases", app);
  INFO(r.body.dump());
  REQUIRE(r.status == 201);
  return r.body["case_id"];
}

RawClient::RawClient(const std::string& endpoint, const PublicKey& hub_key, const SigningKey& key,
                     const std::string& routing_id) {
  const CurveKeypair c = key.curve_keypair();
  const CurveKey server = *curve_public_from(hub_key);
  sock.set(zmq::sockopt::linger, 0);
  sock.set(zmq::sockopt::routing_id, routing_id);
  sock.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), 32));
  sock.set(zmq::sockopt::curve_publickey, zmq::const_buffer(c.public_key.data(), 32));
  sock.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(c.secret_key.data(), 32));
  sock.connect(endpoint);
}

std::optional<pb::Envelope> RawClient::recv(int ms) {
  zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(ms));
  if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
  zmq::message_t m;
  (void)sock.recv(m);
  return sync::decode(m);
}

PublicKey hub_public_key(const DistrictDir& d) {
  auto keys = load_public_keys(d.config(), {"HUB"});
  REQUIRE(keys.ok());
  return keys->at("HUB");
}

SigningKey site_key(const NodeHarness& n) {
  auto k = SigningKey::load(n.data() / "site.key");
  REQUIRE(k.ok());
  return *k;
}

pb::Envelope hello(const std::string& site) {
  pb::Envelope e;
  e.mutable_hello()->set_site(site);
  return e;
}

}  // namespace tongban::test
