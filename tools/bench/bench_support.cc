#include "bench_support.h"

#include <algorithm>

#include <cstdio>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "tongban/hub/hub_service.h"
#include "tongban/node/case_service.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/staff.h"
#include "tongban/shared/validation.h"
#include "tongban/sync/replica.h"

namespace tongban::bench {

double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(v.size() * p))];
}

std::string resident_id(int n, int born_from) {
  n = std::abs(n);
  char base[24];
  std::snprintf(base, sizeof base, "610113%04d%02d%02d%03d", born_from + n % 40, 1 + n % 12,
                1 + n % 28, n % 1000);
  return std::string(base, 17) + resident_id_check_char(std::string_view(base, 17));
}


Status copy_site_config(const std::string& given, const std::filesystem::path& to) {
  std::vector<std::filesystem::path> candidates = {given};
  if (given == "site-config")
    candidates.push_back(tools::self_dir().parent_path().parent_path() / "site-config");
  for (const auto& dir : candidates) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(dir / "district.toml", ec)) continue;
    std::filesystem::copy(dir, to, std::filesystem::copy_options::recursive, ec);
    if (ec) return Status::Unavailable("cannot copy " + dir.string() + ": " + ec.message());
    return Status::Ok();
  }
  return Status::NotFound("no_site_config",
                          "找不到站点配置目录 " + given + "，请用 --site-config 指定",
                          "no site-config at " + given + ": give --site-config");
}

std::filesystem::path kek_file(const std::filesystem::path& data) {
  return data.parent_path() / (data.filename().string() + ".kek");
}

Result<Keyring> bench_keyring(const std::filesystem::path& data, const std::string& owner) {
  return Keyring::unlock(data / Keyring::kFile, KekSource{kek_file(data), ""}, owner);
}

namespace {
// A new keyring for `owner`, sealed under a new kek_file(data), its box key into config/keys.
Result<Keyring> make_keyring(const std::filesystem::path& config, const std::filesystem::path& data,
                             const std::string& owner) {
  const auto district_key = config.parent_path() / "district.key";
  auto made = create_key_file(district_key);
  if (!made.ok()) return made.status();
  auto blind = read_key_file(district_key);
  if (!blind.ok()) return blind.status();
  auto kek = create_key_file(kek_file(data));
  if (!kek.ok()) return kek.status();
  Keyring keys = Keyring::generate(owner, *blind, SystemClock().now());
  TB_RETURN_IF_ERROR(keys.save(data / Keyring::kFile, KekSource{kek_file(data), ""}));
  TB_RETURN_IF_ERROR(write_public_key(config, owner, keys.box().public_key, kBoxKeySuffix));
  return keys;
}
}  // namespace

Status provision_site(const std::filesystem::path& config, const std::filesystem::path& data,
                      const std::string& site, const std::string& password) {
  std::filesystem::create_directories(data);
  const SigningKey key = SigningKey::generate();
  TB_RETURN_IF_ERROR(key.save(data / node::NodeStore::kKeyFile));
  TB_RETURN_IF_ERROR(write_public_key(config, site, key.public_key()));
  auto keys = make_keyring(config, data, site);
  if (!keys.ok()) return keys.status();
  auto district = load_district(config);
  if (!district.ok()) return district.status();
  SystemClock clock;
  auto store = node::NodeStore::open(data, site, &key, *district, clock, &*keys);
  if (!store.ok()) return store.status();
  return (*store)->staff().create("clerk", "bench clerk", Role::kClerk, password);
}

Status provision_hub(const std::filesystem::path& config, const std::filesystem::path& data,
                     const std::string& password) {
  std::filesystem::create_directories(data);
  const SigningKey key = SigningKey::generate();
  TB_RETURN_IF_ERROR(key.save(data / hub::HubService::kKeyFile));
  auto district = load_district(config);
  if (!district.ok()) return district.status();
  TB_RETURN_IF_ERROR(write_public_key(config, district->hub_id, key.public_key()));
  auto keys = make_keyring(config, data, district->hub_id);
  if (!keys.ok()) return keys.status();
  SystemClock clock;
  auto hub = hub::HubService::open(*district, data, key, clock, &*keys);
  if (!hub.ok()) return hub.status();
  return (*hub)->staff().create("operator", "bench operator", Role::kOperator, password);
}

Result<uint64_t> fill_log(const std::filesystem::path& config, const std::filesystem::path& data,
                          const std::string& site_id, long events, bool progress, Fill fill) {
  auto district = load_district(config);
  if (!district.ok()) return district.status();
  const SiteConfig* site = district->site(site_id);
  if (!site) return Status::NotFound("unknown_site", "没有该站点", "no site " + site_id);
  auto key = SigningKey::load(data / node::NodeStore::kKeyFile);
  if (!key.ok()) return key.status();
  ManualClock clock(static_cast<Timestamp>(date_from_ymd(2026, 3, 2).days) * 86400 + 3600);
  auto keys = bench_keyring(data, site_id);
  if (!keys.ok()) return keys.status();
  auto store = node::NodeStore::open(data, site_id, &*key, *district, clock, &*keys);
  if (!store.ok()) return store.status();
  node::CaseService cases(*district, *site, **store, *key);
  const node::Actor clerk{"clerk", Role::kClerk, false, ""},
      reviewer{"reviewer", Role::kReviewer, false, ""};
  // Centers (RS001) and parks (QY001): submitted, accepted, review, decided, license (5
  // events). Agent points decide nothing themselves: a 秒批 item (MZ001) gives submitted,
  // accepted, decided, license.
  const bool agent_point = site->kind == SiteKind::kAgentPoint;
  const bool park = site->kind == SiteKind::kParkStation;
  const auto t0 = SteadyClock::now();
  long n = 0, last_report = 0;
  while (static_cast<long>((*store)->head().seq) < events) {
    std::vector<node::CaseService::Script> batch;
    for (int i = 0; i < 200; ++i, ++n) {
      ApplicationInput app;
      app.item_code = agent_point ? "MZ001" : park ? "QY001" : "RS001";
      app.applicant.set_name("测试申请人");
      app.applicant.set_id_number(resident_id(static_cast<int>(n)));
      app.applicant.set_phone("13912345678");
      app.provided = agent_point ? std::vector<std::string>{"ID", "HKB", "BANK"}
                     : park      ? std::vector<std::string>{"ID", "REG_FORM", "PREMISES"}
                                 : std::vector<std::string>{"ID", "PHOTO"};
      if (fill == Fill::kOpen) {
        batch.push_back({{clerk, Submit{app, AcceptInput{}}}});
      } else if (fill == Fill::kBriefRefusal) {
        batch.push_back({{clerk, Submit{app, std::nullopt}}, {clerk, Refuse{"不符"}}});
      } else if (agent_point) {
        // 秒批 of 高龄津贴 reads the age from the ID number: residents born 1900-1939.
        app.applicant.set_id_number(resident_id(static_cast<int>(n), 1900));
        app.form = {{"hukou_local", "yes"}};
        batch.push_back({{clerk, Submit{app, AcceptInput{}}}});
      } else {
        batch.push_back({{clerk, Submit{app, AcceptInput{}}},
                         {reviewer, StartReview{}},
                         {reviewer, DecideCase{true, "", ""}}});
      }
    }
    auto ids = cases.bulk_create(batch);
    if (!ids.ok()) return ids.status();
    const long head = static_cast<long>((*store)->head().seq);
    if (progress && head - last_report >= 100000) {
      last_report = head;
      std::fprintf(stderr, "  %s log: %ld events (%.0f events/s)\n", site_id.c_str(), head,
                   head / (ms_since(t0) / 1000));
    }
  }
  return (*store)->head().seq;
}

Result<Daemon> start_daemon(const std::vector<std::string>& argv, const std::filesystem::path& port_file,
                            const std::filesystem::path& log) {
  std::filesystem::remove(port_file);
  auto child = tools::ChildProcess::spawn(argv, log);
  if (!child.ok()) return child.status();
  auto port = tools::wait_for_port_file(port_file, *child, std::chrono::seconds(60));
  if (!port) return Status::Unavailable(argv[0] + " did not start; see " + log.string());
  return Daemon{std::move(*child), *port};
}

double raw_commits_per_s(const std::filesystem::path& dir) {
  auto db = Db::open(dir / "raw.db");
  if (!db.ok() || !db->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)").ok()) return 0;
  auto ins = db->prepare("INSERT INTO t(k, v) VALUES(?1, ?2)");
  if (!ins.ok()) return 0;
  const std::string blob(400, 'x');
  constexpr int kRows = 2000;
  const auto t0 = SteadyClock::now();
  for (int i = 0; i < kRows; ++i)
    if (!ins->bind(1, int64_t{i}).bind_blob(2, blob.data(), blob.size()).run().ok()) return 0;
  return kRows / (ms_since(t0) / 1000.0);
}

double raw_batched_appends_per_s(const std::filesystem::path& dir, size_t row_bytes, int rows) {
  auto db = Db::open(dir / "raw_batched.db");
  if (!db.ok() ||
      !db->exec("CREATE TABLE t(origin TEXT, seq INTEGER, v BLOB, PRIMARY KEY(origin, seq)) WITHOUT ROWID").ok())
    return 0;
  auto ins = db->prepare("INSERT INTO t(origin, seq, v) VALUES('S01', ?1, ?2)");
  if (!ins.ok()) return 0;
  const std::string blob(row_bytes, 'x');
  const auto t0 = SteadyClock::now();
  for (int i = 0; i < rows;) {
    Transaction tx(*db);
    for (int k = 0; k < 1000 && i < rows; ++k, ++i)
      if (!ins->bind(1, int64_t{i}).bind_blob(2, blob.data(), blob.size()).run().ok()) return 0;
    if (!tx.commit().ok()) return 0;
  }
  return rows / (ms_since(t0) / 1000.0);
}

double raw_curve_msgs_per_s(size_t bytes, int messages) {
  zmq::context_t ctx(1);
  const SigningKey server_key = SigningKey::generate(), client_key = SigningKey::generate();
  const CurveKeypair s = server_key.curve_keypair(), c = client_key.curve_keypair();
  zmq::socket_t router(ctx, zmq::socket_type::router), dealer(ctx, zmq::socket_type::dealer);
  router.set(zmq::sockopt::curve_server, 1);
  router.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(s.secret_key.data(), 32));
  router.set(zmq::sockopt::rcvhwm, 100000);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  dealer.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(s.public_key.data(), 32));
  dealer.set(zmq::sockopt::curve_publickey, zmq::const_buffer(c.public_key.data(), 32));
  dealer.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(c.secret_key.data(), 32));
  dealer.set(zmq::sockopt::sndhwm, 100000);
  dealer.connect(endpoint);
  const std::string payload(bytes, 'x');
  dealer.send(zmq::buffer(payload), zmq::send_flags::none);  // handshake before timing
  zmq::message_t id, msg;
  (void)router.recv(id);
  (void)router.recv(msg);
  const auto t0 = SteadyClock::now();
  std::thread sender([&] {
    for (int i = 0; i < messages; ++i) dealer.send(zmq::buffer(payload), zmq::send_flags::none);
  });
  for (int i = 0; i < messages; ++i) {
    (void)router.recv(id);
    (void)router.recv(msg);
  }
  const double rate = messages / (ms_since(t0) / 1000.0);
  sender.join();
  return rate;
}

uint64_t held_seq(const std::filesystem::path& db_file, const std::string& origin) {
  auto db = Db::open(db_file, Db::Options{false, true, 5000});
  if (!db.ok()) return 0;
  auto h = sync::Replica(*db).head(origin);
  return h.ok() ? h->seq : 0;
}

}  // namespace tongban::bench
