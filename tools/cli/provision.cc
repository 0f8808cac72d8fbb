// tongban provision: gives a site its identity (Ed25519 key in the data dir, mode 0600;
// public key into site-config/keys/<site>.pub), its keyring for residents' data (sealed
// under the KEK from --key-file or a passphrase; box public key into
// site-config/keys/<site>.box.pub), creates its database and its accounts.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "tongban/hub/hub_service.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/staff.h"

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
};

int fail(const Status& s) {
  std::cerr << "tongban provision: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}

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

int provision(const ProvisionOptions& o) {
  auto district = load_district(o.config_dir);
  if (!district.ok()) return fail(district.status());
  const std::string id = o.hub ? district->hub_id : o.site;
  if (!o.hub && !district->site(o.site))
    return fail(Status::NotFound("unknown_site", "站点配置中没有该站点：" + o.site,
                                 "no such site: " + o.site + " (use --site, or --hub)"));
  const char* password = std::getenv(o.password_env.c_str());
  if (!password || !*password)
    return fail(Status::InvalidArgument("no_password",
                                        "请通过环境变量 " + o.password_env + " 提供初始密码",
                                        "set the initial password in $" + o.password_env));
  const std::filesystem::path data(o.data);
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  if (Status s = lock_data_dir(data); !s.ok()) return fail(s);
  auto key =
      load_or_generate(data / (o.hub ? hub::HubService::kKeyFile : node::NodeStore::kKeyFile));
  if (!key.ok()) return fail(key.status());
  if (Status s = write_public_key(o.config_dir, id, key->public_key()); !s.ok()) return fail(s);
  auto keys = load_or_create_keyring(o, data, id);
  if (!keys.ok()) return fail(keys.status());
  if (Status s = write_public_key(o.config_dir, id, keys->box().public_key, kBoxKeySuffix); !s.ok())
    return fail(s);

  SystemClock clock;
  std::vector<std::pair<std::string, Role>> accounts;
  std::unique_ptr<hub::HubService> hub_service;
  std::unique_ptr<node::NodeStore> store;
  StaffDirectory* staff = nullptr;
  if (o.hub) {
    auto h = hub::HubService::open(*district, data, *key, clock, &*keys);
    if (!h.ok()) return fail(h.status());
    hub_service = std::move(*h);
    staff = &hub_service->staff();
    accounts = {{o.admin == "admin" ? "operator" : o.admin, Role::kOperator}};
  } else {
    auto st = node::NodeStore::open(data, o.site, &*key, *district, clock, &*keys);
    if (!st.ok()) return fail(st.status());
    store = std::move(*st);
    staff = &store->staff();
    accounts = {{o.admin, Role::kAdmin}};
    if (o.demo_staff)
      for (auto [name, role] : {std::pair{"clerk", Role::kClerk},
                                {"reviewer", Role::kReviewer},
                                {"agent", Role::kAgent}})
        accounts.push_back({name, role});
  }
  for (const auto& [name, role] : accounts) {
    const Status s = staff->create(name, std::string(label_zh(role)) + " " + name, role, password);
    if (s.ok())
      std::cout << "account " << name << " (" << to_string(role) << ") created\n";
    else if (s.reason() != "username_taken")
      return fail(s);
  }
  std::cout << (o.hub ? "hub " : "site ") << id << " provisioned: public key "
            << to_hex(key->public_key()) << "\n";
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
  cmd->add_option("--password-env", opts->password_env,
                  "存放初始密码的环境变量 / env var holding the initial password");
  cmd->add_flag("--demo-staff", opts->demo_staff,
                "另建 clerk、reviewer、agent 演示账号 / also create demo accounts");
  cmd->callback([opts] { exit_code() = provision(*opts); });

  auto config = std::make_shared<std::string>("site-config");
  CLI::App* sites = app.add_subcommand(
      "district", "列出区内站点：编号 类型 名称 / list the district's sites: id kind name");
  sites->add_option("--site-config", *config, "站点配置目录 / site-config dir");
  sites->callback([config] {
    auto district = load_district(*config);
    if (!district.ok()) {
      exit_code() = fail(district.status());
      return;
    }
    for (const SiteConfig& s : district->sites)
      std::cout << s.id << " " << to_string(s.kind) << " " << s.name << "\n";
  });
}

}  // namespace tongban::cli
