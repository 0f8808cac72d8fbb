// tongban provision: gives a site its identity (Ed25519 key in the data dir, mode 0600;
// public key into site-config/keys/<site>.pub), creates its database and its accounts.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "tongban/shared/staff.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"

namespace tongban::cli {

namespace {

struct ProvisionOptions {
  std::string config_dir = "site-config";
  std::string site;
  std::string data;
  std::string admin = "admin";
  std::string password_env = "TONGBAN_PASSWORD";
  bool demo_staff = false;
};

int fail(const Status& s) {
  std::cerr << "tongban provision: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}

int provision(const ProvisionOptions& o) {
  auto district = load_district(o.config_dir);
  if (!district.ok()) return fail(district.status());
  if (!district->site(o.site))
    return fail(Status::NotFound("unknown_site", "站点配置中没有该站点：" + o.site,
                                 "no such site: " + o.site));
  const char* password = std::getenv(o.password_env.c_str());
  if (!password || !*password)
    return fail(Status::InvalidArgument("no_password",
                                        "请通过环境变量 " + o.password_env + " 提供初始密码",
                                        "set the initial password in $" + o.password_env));
  const std::filesystem::path data(o.data);
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  const std::filesystem::path key_file = data / node::NodeStore::kKeyFile;
  auto key = SigningKey::load(key_file);
  if (!key.ok()) {
    if (key.status().code() != StatusCode::kNotFound) return fail(key.status());
    const SigningKey fresh = SigningKey::generate();
    if (Status s = fresh.save(key_file); !s.ok()) return fail(s);
    key = SigningKey::load(key_file);
    if (!key.ok()) return fail(key.status());
    std::cout << "generated site key " << key_file.string() << " (0600)\n";
  }
  if (Status s = write_public_key(o.config_dir, o.site, key->public_key()); !s.ok()) return fail(s);
  auto store = node::NodeStore::open(data, o.site, &*key);
  if (!store.ok()) return fail(store.status());
  SystemClock clock;
  std::mutex mu;
  StaffDirectory staff(store->db(), mu, clock);
  std::vector<std::pair<std::string, Role>> accounts = {{o.admin, Role::kAdmin}};
  if (o.demo_staff)
    for (auto [name, role] : {std::pair{"clerk", Role::kClerk},
                              {"reviewer", Role::kReviewer},
                              {"agent", Role::kAgent}})
      accounts.push_back({name, role});
  for (const auto& [name, role] : accounts) {
    const Status s = staff.create(name, std::string(label_zh(role)) + " " + name, role, password);
    if (s.ok())
      std::cout << "account " << name << " (" << to_string(role) << ") created\n";
    else if (s.reason() != "username_taken")
      return fail(s);
  }
  std::cout << "site " << o.site << " provisioned: public key " << to_hex(key->public_key())
            << "\n";
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
  cmd->add_option("--site", opts->site, "站点编号 / site id")->required();
  cmd->add_option("--data", opts->data, "数据目录 / data directory")->required();
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
