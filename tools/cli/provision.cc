// tongban provision: gives a site its identity (Ed25519 key in the data dir, mode 0600;
// public key into site-config/keys/<site>.pub), its keyring for residents' data (sealed
// under the KEK from --key-file or a passphrase; box public key into
// site-config/keys/<site>.box.pub), creates its database and its accounts.
#include <httplib.h>

#include <chrono>
#include <cstring>
#include <future>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "hub_chain.h"
#include "http_client.h"
#include "tongban/hub/hub_service.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/staff.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/head_witness.h"
#include "tongban/sync/replica.h"
#include "wire.pb.h"

namespace tongban::cli {

namespace {

struct ProvisionOptions {
  std::string config_dir = "site-config";
  std::string site;
  std::string data;
  std::string admin = "admin";
  std::string password_env = "TONGBAN_PASSWORD";
  std::string key_file;      // the KEK (created when absent)
  std::string district_key;  // the district's blind-index key (created when absent)
  bool demo_staff = false;
  bool hub = false;
  std::string ca_key;  // the hub: the district CA's key (default DATA/district-ca.key)
};


// Loads the key in `file`, generating it (mode 0600) on first use.
Result<SigningKey> load_or_generate(const std::filesystem::path& file) {
  auto key = SigningKey::load(file);
  if (key.ok() || key.status().code() != StatusCode::kNotFound) return key;
  TB_RETURN_IF_ERROR(SigningKey::generate().save(file));
  std::cout << "generated key " << file.string() << " (0600)\n";
  return SigningKey::load(file);
}

// The keyring in data/keys.sealed: opened with the KEK when it exists (provisioning again
// checks the KEK), else created with the district's blind-index key and sealed under it.
Result<Keyring> load_or_create_keyring(const ProvisionOptions& o, const std::filesystem::path& data,
                                       const std::string& id) {
  auto kek = kek_source(o.key_file);
  if (!kek.ok()) return kek.status();
  const std::filesystem::path file = data / Keyring::kFile;
  if (std::filesystem::exists(file)) return Keyring::unlock(file, *kek, id);
  if (o.district_key.empty())
    return Status::InvalidArgument(
        "no_district_key", "请用 --district-key 指定区级盲索引密钥文件（首次使用时自动生成，各站点须用同一文件）",
        "pass --district-key: the district's blind-index key file (created on first use; every "
        "site and the hub must be provisioned with the same file)");
  auto created = create_key_file(o.district_key);
  if (!created.ok()) return created.status();
  if (*created)
    std::cout << "generated district key " << o.district_key
              << " (0600): provision every site and the hub with this same file, then keep it "
                 "off the data disks\n";
  auto blind = read_key_file(o.district_key);
  if (!blind.ok()) return blind.status();
  if (!kek->key_file.empty()) {
    auto made = create_key_file(kek->key_file);
    if (!made.ok()) return made.status();
    if (*made)
      std::cout << "generated key-encryption key " << kek->key_file.string()
                << " (0600): keep it on separate media; the daemon needs it at every start\n";
  }
  Keyring keys = Keyring::generate(id, *blind, SystemClock().now());
  TB_RETURN_IF_ERROR(keys.save(file, *kek));
  std::cout << "keyring " << file.string() << " sealed under the key-encryption key\n";
  return keys;
}

std::vector<std::pair<std::string, Role>> site_accounts(const ProvisionOptions& o) {
  std::vector<std::pair<std::string, Role>> accounts = {{o.admin, Role::kAdmin}};
  if (o.demo_staff)
    for (auto [name, role] : {std::pair{"clerk", Role::kClerk},
                              {"reviewer", Role::kReviewer},
                              {"agent", Role::kAgent}})
      accounts.push_back({name, role});
  return accounts;
}

Status create_accounts(StaffDirectory& staff,
                       const std::vector<std::pair<std::string, Role>>& accounts,
                       const char* password) {
  for (const auto& [name, role] : accounts) {
    const Status s = staff.create(name, std::string(label_zh(role)) + " " + name, role, password);
    if (s.ok())
      std::cout << "account " << name << " (" << to_string(role) << ") created\n";
    else if (s.reason() != "username_taken")
      return s;
  }
  return Status::Ok();
}

int provision(const ProvisionOptions& o) {
  auto district = load_district(o.config_dir);
  if (!district.ok()) return failed(district.status());
  const std::string id = o.hub ? district->hub_id : o.site;
  if (!o.hub && !district->site(o.site))
    return failed(Status::NotFound("unknown_site", "站点配置中没有该站点：" + o.site,
                                 "no such site: " + o.site + " (use --site, or --hub)"));
  const char* password = std::getenv(o.password_env.c_str());
  if (!password || !*password)
    return failed(Status::InvalidArgument("no_password",
                                        "请通过环境变量 " + o.password_env + " 提供初始密码",
                                        "set the initial password in $" + o.password_env));
  const std::filesystem::path data(o.data);
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  if (Status s = lock_data_dir(data); !s.ok()) return failed(s);
  auto key =
      load_or_generate(data / (o.hub ? hub::HubService::kKeyFile : node::NodeStore::kKeyFile));
  if (!key.ok()) return failed(key.status());
  if (Status s = write_public_key(o.config_dir, id, key->public_key()); !s.ok()) return failed(s);
  auto keys = load_or_create_keyring(o, data, id);
  if (!keys.ok()) return failed(keys.status());
  if (Status s = write_public_key(o.config_dir, id, keys->box().public_key, kBoxKeySuffix); !s.ok())
    return failed(s);

  SystemClock clock;
  std::vector<std::pair<std::string, Role>> accounts;
  std::unique_ptr<hub::HubService> hub_service;
  std::unique_ptr<node::NodeStore> store;
  StaffDirectory* staff = nullptr;
  if (o.hub) {
    auto h = hub::HubService::open(*district, data, *key, clock, &*keys);
    if (!h.ok()) return failed(h.status());
    hub_service = std::move(*h);
    staff = &hub_service->staff();
    accounts = {{o.admin == "admin" ? "operator" : o.admin, Role::kOperator},
                {"supervisor", Role::kSupervisor}};
  } else {
    auto st = node::NodeStore::open(data, o.site, &*key, *district, clock, &*keys);
    if (!st.ok()) return failed(st.status());
    store = std::move(*st);
    staff = &store->staff();
    accounts = site_accounts(o);
  }
  if (Status s = create_accounts(*staff, accounts, password); !s.ok()) return failed(s);
  if (o.hub) {  // the district CA for HTTPS on the LAN (`tongban cert issue` uses it)
    const std::string ca_key = o.ca_key.empty() ? (data / "district-ca.key").string() : o.ca_key;
    if (Status s = init_ca(o.config_dir, ca_key); !s.ok()) return failed(s);
  }
  std::cout << (o.hub ? "hub " : "site ") << id << " provisioned: public key "
            << to_hex(key->public_key()) << "\n";
  return 0;
}


// tongban restore --from-hub: a replaced site PC (an empty data directory) gets the site's
// own chain back from the hub, every hash, link and the site's signature over the head
// checked against site-config/keys/<site>.pub as it stood; its projections, appointments
// and case keys rebuilt; and it continues the sequence. A lost identity or keyring is made
// anew (site-config gets the new public keys and the hub reloads its allow-list).
struct RestoreOptions {
  ProvisionOptions base;
  HubLink hub;
  bool from_hub = false;
};

}  // namespace

Result<std::string> hub_get(const HubLink& o, const std::string& path) {
  auto client = daemon_client(o.url);
  httplib::Client& c = *client;
  c.set_read_timeout(120, 0);
  auto r = c.Get(path, {{"Authorization", "Bearer " + o.token}});
  if (!r)
    return Status::Unavailable("cannot reach the hub at " + o.url + " (" +
                               httplib::to_string(r.error()) + ")");
  if (r->status == 200) return r->body;
  const auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object())
    return Status::Make(StatusCode::kUnavailable, j["error"].value("code", "hub_error"),
                        j["error"].value("message", "区级中心拒绝了请求"),
                        j["error"].value("message_en", "the hub refused"));
  return Status::Unavailable("the hub answered HTTP " + std::to_string(r->status));
}

Status hub_reload_keys(const HubLink& o) {
  auto client = daemon_client(o.url);
  auto r = client->Post("/api/v1/keys/reload", {{"Authorization", "Bearer " + o.token}}, "{}",
                  "application/json");
  if (!r || r->status != 200)
    return Status::Unavailable(
        "restored, but the hub did not reload its allow-list: POST /api/v1/keys/reload there");
  return Status::Ok();
}

namespace {

// One page of the site's chain, parsed, each event its own site's and hashing to what it
// says. Linking the pages up is the caller's.
struct FetchedPage {
  pb::SignedHead head;
  uint64_t head_lamport = 0;
  std::vector<sync::Event> events;
  std::vector<std::pair<std::string, std::string>> case_keys;
  std::string unverified;  // why the page fails its checks ("" when it passes)
};

Result<FetchedPage> fetch_page(const HubLink& link, const std::string& site, uint64_t from) {
  auto body = hub_get(link, "/api/v1/sites/" + site + "/restore?from=" + std::to_string(from) +
                                "&limit=" + std::to_string(link.page));
  if (!body.ok()) return body.status();
  FetchedPage out;
  pb::RestorePage page;
  if (!page.ParseFromString(*body)) {
    out.unverified = "a page does not parse";
    return out;
  }
  out.head = page.head();
  out.head_lamport = page.head_lamport();
  out.events.reserve(static_cast<size_t>(page.events_size()));
  for (const pb::WireEvent& w : page.events()) {
    sync::Event& e = out.events.emplace_back();
    const uint64_t at = from + out.events.size() - 1;
    if (!sync::from_wire(w, e) || e.origin != site) {
      out.unverified = "event " + std::to_string(at) + " is missing or out of order";
      return out;
    }
    if (sync::compute_event_hash(e) != e.hash) {
      out.unverified = "event " + std::to_string(e.seq) + " does not hash";
      return out;
    }
  }
  for (const pb::RestoreKey& k : page.case_keys()) out.case_keys.emplace_back(k.case_id(), k.key());
  return out;
}

Status unverified(const std::string& why) {
  return Status::Make(StatusCode::kCorruption, "restore_unverified",
                      "区级中心提供的事件未通过校验：" + why, "the hub's events do not verify: " + why);
}

}  // namespace

Result<FetchedChain> fetch_chain(const HubLink& link, Db& db, const std::string& site,
                                 const PublicKey& site_key, uint64_t next, Hash32 prev) {
  FetchedChain out;
  std::optional<pb::SignedHead> head;
  uint64_t head_lamport = 0;
  // The next page is fetched, parsed and its hashes checked on another thread while this
  // one is linked and stored (pages are contiguous: a full page ends where the next begins).
  const auto page_at = [&](uint64_t from) {
    return std::async(std::launch::async, [&link, &site, from] { return fetch_page(link, site, from); });
  };
  auto coming = page_at(next);
  for (;;) {
    auto page = coming.get();
    if (page.ok()) coming = page_at(next + link.page);
    if (!page.ok() && page.status().reason() == "nothing_held") {
      out.head.seq = 0;  // the hub holds none of it yet: the node sends it all itself
      return out;
    }
    if (!page.ok()) return page.status();
    if (!page->unverified.empty()) return unverified(page->unverified);
    if (!head) {
      head = page->head;
      head_lamport = page->head_lamport;
    } else if (page->head.seq() != head->seq() || page->head.hash() != head->hash()) {
      return unverified("the site's head changed during the restore");
    }
    for (const sync::Event& e : page->events) {
      if (e.seq != next) return unverified("event " + std::to_string(next) + " is missing or out of order");
      if (e.prev_hash != prev) return unverified("event " + std::to_string(e.seq) + " does not link");
      prev = e.hash;
      ++next;
    }
    for (auto& k : page->case_keys) out.case_keys.push_back(std::move(k));
    if (page->events.empty() && head->seq() + 1 < next) {
      // The hub holds less of the chain than the caller has (a backup taken while the
      // link was down): nothing to fetch; the node sends the rest itself, once the hub's
      // newest event is the caller's too.
      auto mine = sync::Replica(db).hash_at(site, head->seq());
      if (!mine.ok()) return mine.status();
      if (head->hash().size() != mine->size() ||
          std::memcmp(head->hash().data(), mine->data(), mine->size()) != 0)
        return unverified("the hub's event " + std::to_string(head->seq()) + " differs from this one (a fork)");
      out.head.seq = head->seq();
      return out;
    }
    if (page->events.empty()) break;
    Transaction tx(db);
    TB_RETURN_IF_ERROR(tx.begun());
    TB_RETURN_IF_ERROR(sync::Replica(db).append(page->events, Signature{}));
    TB_RETURN_IF_ERROR(tx.commit());
    out.appended += page->events.size();
    if (next > head->seq()) break;
  }
  // The chain ends where the site signed it.
  Hash32 head_hash{};
  if (!head || head->signature().size() != out.signature.size() ||
      head->hash().size() != head_hash.size())
    return unverified("no signed head");
  std::copy(head->signature().begin(), head->signature().end(), out.signature.begin());
  std::copy(head->hash().begin(), head->hash().end(), head_hash.begin());
  out.head = sync::ChainHead{head->seq(), head_lamport, head_hash};
  if (next - 1 != out.head.seq || prev != out.head.hash)
    return unverified("the events end at seq " + std::to_string(next - 1) + ", the head at " +
                      std::to_string(out.head.seq));
  if (!verify_signature(site_key, sync::chain_head_message(site, out.head), out.signature))
    return unverified("the head is not signed by the site's key");
  return out;
}

namespace {

int restore(const RestoreOptions& ro) {
  const ProvisionOptions& o = ro.base;
  const auto t0 = std::chrono::steady_clock::now();
  auto district = load_district(o.config_dir);
  if (!district.ok()) return failed(district.status());
  if (!district->site(o.site))
    return failed(Status::NotFound("unknown_site", "站点配置中没有该站点：" + o.site,
                                 "no such site: " + o.site));
  const char* password = std::getenv(o.password_env.c_str());
  if (!password || !*password)
    return failed(Status::InvalidArgument("no_password",
                                        "请通过环境变量 " + o.password_env + " 提供管理员初始密码",
                                        "set the admin's initial password in $" + o.password_env));
  const std::filesystem::path data(o.data);
  if (std::filesystem::exists(data / node::NodeStore::kDbFile))
    return failed(Status::Conflict("data_dir_not_empty",
                                 "数据目录中已有数据库，恢复只写入新的空目录：" + data.string(),
                                 "the data directory already holds node.db: restore fills an "
                                 "empty one (" + data.string() + ")"));
  // The key the hub verified the site's heads with, before a new identity replaces it.
  auto known = load_public_keys(o.config_dir, {o.site});
  if (!known.ok()) return failed(known.status());
  if (!known->count(o.site))
    return failed(Status::NotFound("no_site_key", "站点配置中没有该站点的公钥，无法校验：" + o.site,
                                 "no keys/" + o.site + ".pub in site-config to verify with"));
  const PublicKey site_key = known->at(o.site);

  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  if (Status s = lock_data_dir(data); !s.ok()) return failed(s);
  auto key = load_or_generate(data / node::NodeStore::kKeyFile);
  if (!key.ok()) return failed(key.status());
  auto keys = load_or_create_keyring(o, data, o.site);
  if (!keys.ok()) return failed(keys.status());
  // The hub wraps the case keys for the box key site-config holds (read at each page). The
  // identity key is replaced only once everything is verified, so a failed restore can be
  // retried against the key the hub knew.
  if (Status s = write_public_key(o.config_dir, o.site, keys->box().public_key, kBoxKeySuffix);
      !s.ok())
    return failed(s);

  auto db = Db::open(data / node::NodeStore::kDbFile);
  if (!db.ok()) return failed(db.status());
  if (Status s = db->migrate(node::NodeStore::migrations()); !s.ok()) return failed(s);
  // A million rows go into the events table and its indexes: keep their pages in memory.
  if (Status s = db->exec("PRAGMA cache_size=-131072"); !s.ok()) return failed(s);
  const auto started = std::chrono::steady_clock::now();
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  auto fetched = fetch_chain(ro.hub, *db, o.site, site_key, 1, Hash32{});
  if (!fetched.ok()) {
    const Status& e = fetched.status();
    if (e.code() != StatusCode::kCorruption) return failed(e);
    return failed(Status::Make(StatusCode::kCorruption, e.reason(),
                             e.message_zh() + "。请删除数据目录 " + data.string() +
                                 " 后重试，或联系区级中心",
                             e.message_en() + "; delete " + data.string() + " and retry"));
  }
  // A restore from nothing needs the hub to hold the site (fetch_chain answers an empty
  // head for restore-backup, whose node then sends its events itself).
  if (fetched->head.seq == 0)
    return failed(Status::NotFound("nothing_held", "区级中心没有该站点的事件，无可恢复",
                                   "the hub holds no event of " + o.site + ": nothing to restore"));
  const sync::ChainHead claimed = fetched->head;
  auto& case_keys = fetched->case_keys;
  // From here on the head is this identity's to sign.
  {
    const Signature mine = key->sign(sync::chain_head_message(o.site, claimed));
    auto up = db->prepare("UPDATE chain_head SET signature=?2 WHERE origin=?1");
    if (!up.ok()) return failed(up.status());
    if (Status s = up->bind(1, o.site).bind_blob(2, mine.data(), mine.size()).run(); !s.ok())
      return failed(s);
    // Every link and hash was checked above: the witness says so, and the store's start
    // does not walk the whole chain a second time.
    auto witness = sync::HeadWitness::open(data / node::NodeStore::kHeadFile);
    if (!witness.ok()) return failed(witness.status());
    if (Status s = witness->write(o.site, claimed, mine); !s.ok()) return failed(s);
  }
  db = Status::Unavailable("closed");

  const double fetched_s = seconds_since(started);
  const auto opening = std::chrono::steady_clock::now();
  SystemClock clock;
  auto store = node::NodeStore::open(data, o.site, &*key, *district, clock, &*keys);
  if (!store.ok()) return failed(store.status());
  if (Status s = (*store)->adopt_case_keys(case_keys); !s.ok()) return failed(s);
  const double keys_s = seconds_since(opening);
  const auto rebuilding = std::chrono::steady_clock::now();
  if (Status s = (*store)->rebuild_projections(); !s.ok()) return failed(s);
  std::cerr << "restore: fetched and verified in " << fetched_s << " s, store opened and case "
            << "keys adopted in " << keys_s << " s, projections rebuilt in "
            << seconds_since(rebuilding) << " s\n";
  if (Status s = create_accounts((*store)->staff(), site_accounts(o), password); !s.ok())
    return failed(s);
  if (key->public_key() != site_key) {
    if (Status s = write_public_key(o.config_dir, o.site, key->public_key()); !s.ok()) return failed(s);
    std::cout << "new identity for " << o.site << ": keys/" << o.site << ".pub replaced\n";
  }
  // the hub takes the site's keys as they are now (a no-op when they are the same)
  if (Status s = hub_reload_keys(ro.hub); !s.ok()) return failed(s);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "site " << o.site << " restored from the hub: " << claimed.seq
            << " events verified against its signed head, " << case_keys.size()
            << " case keys, in " << secs << " s; new events continue at seq " << claimed.seq + 1
            << " / 已从区级中心恢复\n";
  return 0;
}

}  // namespace

void add_provision(CLI::App& app) {
  auto opts = std::make_shared<ProvisionOptions>();
  CLI::App* cmd = app.add_subcommand("provision",
                                     "初始化站点：生成站点密钥、建库、创建管理员账号 / give a site "
                                     "its key, database and admin account");
  cmd->add_option("--site-config", opts->config_dir,
                  "站点配置目录（公钥写入其 keys/）/ site-config dir");
  cmd->add_option("--site", opts->site, "站点编号 / site id");
  cmd->add_flag("--hub", opts->hub,
                "初始化区级中心（账号为 operator）/ provision the district hub");
  cmd->add_option("--data", opts->data, "数据目录 / data directory")->required();
  cmd->add_option("--key-file", opts->key_file,
                  "密钥加密密钥文件，不存在则生成（放在数据盘之外）；或用 TONGBAN_PASSPHRASE / "
                  "the key-encryption key file (created when absent; keep it off the data disk)");
  cmd->add_option("--district-key", opts->district_key,
                  "区级盲索引密钥文件，不存在则生成；全区须用同一文件 / the district's "
                  "blind-index key file (created when absent; the same for every site)");
  cmd->add_option("--admin", opts->admin, "管理员用户名 / admin username");
  cmd->add_option("--ca-key", opts->ca_key,
                  "区级 CA 私钥文件（--hub；不存在则创建，默认数据目录中的 district-ca.key）/ the "
                  "district CA's key (--hub; created when absent)");
  cmd->add_option("--password-env", opts->password_env,
                  "存放初始密码的环境变量 / env var holding the initial password");
  cmd->add_flag("--demo-staff", opts->demo_staff,
                "另建 clerk、reviewer、agent 演示账号 / also create demo accounts");
  cmd->callback([opts] { exit_code() = provision(*opts); });

  auto ro = std::make_shared<RestoreOptions>();
  CLI::App* rs = app.add_subcommand(
      "restore",
      "从区级中心恢复本站点（空的数据目录，如更换的电脑）/ rebuild a site from the hub into an "
      "empty data directory (a replaced PC)");
  rs->add_flag("--from-hub", ro->from_hub, "从区级中心取回本站点的事件 / fetch the site's events from the hub")
      ->required();
  rs->add_option("--url", ro->hub.url, "区级中心地址 / the hub's URL (http://host:port)")->required();
  rs->add_option("--token", ro->hub.token, "区级中心调度员令牌 / an operator's token at the hub")
      ->envname("TONGBAN_TOKEN")
      ->required();
  rs->add_option("--site-config", ro->base.config_dir, "站点配置目录 / site-config dir");
  rs->add_option("--site", ro->base.site, "站点编号 / site id")->required();
  rs->add_option("--data", ro->base.data, "新的空数据目录 / the new, empty data directory")
      ->required();
  rs->add_option("--key-file", ro->base.key_file,
                 "密钥加密密钥文件（沿用或新建）/ the KEK file (kept, or created)");
  rs->add_option("--district-key", ro->base.district_key, "区级盲索引密钥文件 / district key file");
  rs->add_option("--admin", ro->base.admin, "管理员用户名 / admin username");
  rs->add_option("--password-env", ro->base.password_env,
                 "存放管理员初始密码的环境变量 / env var holding the admin's initial password");
  rs->add_flag("--demo-staff", ro->base.demo_staff, "另建演示账号 / also create demo accounts");
  rs->add_option("--page", ro->hub.page, "每次取回的事件数 / events per request")
      ->check(CLI::Range(1, 20000));
  rs->callback([ro] { exit_code() = restore(*ro); });

  auto config = std::make_shared<std::string>("site-config");
  CLI::App* sites = app.add_subcommand(
      "district", "列出区内站点：编号 类型 名称 / list the district's sites: id kind name");
  sites->add_option("--site-config", *config, "站点配置目录 / site-config dir");
  sites->callback([config] {
    auto district = load_district(*config);
    if (!district.ok()) {
      exit_code() = failed(district.status());
      return;
    }
    for (const SiteConfig& s : district->sites)
      std::cout << s.id << " " << to_string(s.kind) << " " << s.name << "\n";
  });
}

}  // namespace tongban::cli
