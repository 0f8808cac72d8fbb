// tongban verify-log / verify-license / rebuild: offline checks that need only a data dir
// or a license file plus public keys.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/license.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/head_witness.h"
#include "tongban/sync/transport.h"

namespace tongban::cli {

namespace {

int fail(const char* cmd, const Status& s) {
  std::cerr << "tongban " << cmd << ": " << s.message_zh() << " / " << s.message_en() << "\n";
  return 2;
}

// Site keys, plus the hub's key for each hub->node stream ("HUB><site>").
std::map<std::string, PublicKey> keys_from(const std::string& config_dir) {
  if (config_dir.empty()) return {};
  auto d = load_district(config_dir);
  if (!d.ok()) return {};
  std::map<std::string, PublicKey> keys = d->public_keys;
  if (auto hub = d->public_keys.find(d->hub_id); hub != d->public_keys.end())
    for (const std::string& site : d->site_ids()) keys[sync::stream_origin(site)] = hub->second;
  return keys;
}

// A node's log.head names the head its log had at the last commit: a log that no longer
// holds that event (wiped, truncated, an old copy of node.db put back) fails here even when
// what is left verifies. 0 ok or no witness, 1 broken.
int check_witness(Db& db, const std::filesystem::path& data,
                  const std::map<std::string, PublicKey>& keys) {
  const auto file = data / node::NodeStore::kHeadFile;
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  const size_t at = text.find("tongban-head-v1 ");
  if (at == std::string::npos) return 0;
  std::istringstream fields(text.substr(at));
  std::string magic, origin;
  if (!(fields >> magic >> origin)) return 0;
  const auto key = keys.find(origin);
  if (key == keys.end()) {
    std::cout << "SKIP " << origin << ": head witness present but no public key given / 未校验链头见证\n";
    return 0;
  }
  auto witnessed = sync::read_head_witness(file, origin, key->second);
  if (!witnessed.ok()) {
    std::cout << "FAIL " << origin << ": " << witnessed.status().message_en()
              << " / 链头见证文件签名无效\n";
    return 1;
  }
  if (!*witnessed) return 0;
  auto report = sync::verify_chain(db, origin, &key->second, **witnessed);
  if (!report.ok() || !report->ok) {
    std::cout << "FAIL " << origin << " at seq " << (report.ok() ? report->broken_seq : 0) << ": "
              << (report.ok() ? report->problem : report.status().message_en()) << " / "
              << (report.ok() ? report->problem_zh : report.status().message_zh()) << "\n";
    return 1;
  }
  std::cout << "OK   " << origin << ": the log holds the head witnessed in log.head (seq "
            << (*witnessed)->seq << ") / 与链头见证一致\n";
  return 0;
}

// Exit 0 when every chain verifies, 1 naming the first broken link, 2 if unreadable.
int verify_log_cmd(const std::string& data, const std::string& config_dir) {
  auto file = std::filesystem::path(data) / node::NodeStore::kDbFile;
  if (!std::filesystem::exists(file)) file = std::filesystem::path(data) / "hub.db";
  if (!std::filesystem::exists(file))
    return fail("verify-log", Status::NotFound("no_log", "数据目录中没有事件日志",
                                               "no node.db or hub.db in " + data));
  auto db = Db::open(file);
  if (!db.ok()) return fail("verify-log", db.status());
  const auto keys = keys_from(config_dir);
  auto reports = sync::verify_log(*db, keys);
  if (!reports.ok()) return fail("verify-log", reports.status());
  int rc = 0;
  for (const sync::VerifyReport& r : *reports) {
    const bool signed_checked = keys.count(r.origin) > 0;
    if (r.ok) {
      std::cout << "OK   " << r.origin << ": " << r.events << " events, chain intact"
                << (signed_checked ? ", head signature verified"
                                   : " (no public key given: head signature not checked)")
                << " / 链完整\n";
    } else {
      std::cout << "FAIL " << r.origin << " at seq " << r.broken_seq << ": " << r.problem << " / "
                << r.problem_zh << "\n";
      rc = 1;
    }
  }
  rc = std::max(rc, check_witness(*db, std::filesystem::path(data), keys));
  if (reports->empty() && rc == 0) std::cout << "OK   empty log / 日志为空\n";
  return rc;
}

// Exit 0 for a license whose signature verifies with the issuing site's configured key.
int verify_license_cmd(const std::string& file, const std::string& config_dir) {
  std::ifstream in(file);
  if (!in)
    return fail("verify-license",
                Status::NotFound("no_file", "找不到证照文件", "cannot read " + file));
  std::stringstream ss;
  ss << in.rdbuf();
  auto district = load_district(config_dir);
  if (!district.ok()) return fail("verify-license", district.status());
  auto license = verify_license(ss.str(), district->public_keys);
  if (!license.ok()) {
    if (license.status().code() != StatusCode::kRejected) return fail("verify-license", license.status());
    std::cout << "INVALID " << license.status().message_zh() << " / "
              << license.status().message_en() << "\n";
    return 1;
  }
  std::cout << "VALID 证照有效 / license verified\n"
            << "  license_no: " << license->license_no << "\n"
            << "  issuer:     " << license->issuer << "\n"
            << "  holder:     " << license->holder << "\n"
            << "  issued:     " << license->issued_date << "\n";
  for (const auto& [code, name] : license->items)
    std::cout << "  item:       " << code << " " << name << "\n";
  return 0;
}

int rebuild_cmd(const std::string& data, const std::string& config_dir, const std::string& site,
                const std::string& key_file) {
  auto district = load_district(config_dir);
  if (!district.ok()) return fail("rebuild", district.status());
  // The node is stopped: rebuilding under a running one would race it.
  if (Status s = lock_data_dir(data); !s.ok()) return fail("rebuild", s);
  // Names in the index are sealed under the data key: the keyring rebuilds them.
  auto kek = kek_source(key_file);
  if (!kek.ok()) return fail("rebuild", kek.status());
  auto keys = Keyring::unlock(std::filesystem::path(data) / Keyring::kFile, *kek, site);
  if (!keys.ok()) return fail("rebuild", keys.status());
  SystemClock clock;
  auto store = node::NodeStore::open(data, site, nullptr, *district, clock, &*keys);
  if (!store.ok()) return fail("rebuild", store.status());
  auto before = (*store)->index_digest();
  if (!before.ok()) return fail("rebuild", before.status());
  if (Status s = (*store)->rebuild_projections(); !s.ok()) return fail("rebuild", s);
  auto after = (*store)->index_digest();
  if (!after.ok()) return fail("rebuild", after.status());
  std::cout << "projection digest before " << *before << "\n"
            << "projection digest after  " << *after
            << (*before == *after ? "  (unchanged)" : "  (CHANGED)") << "\n";
  return 0;
}

}  // namespace

void add_verify(CLI::App& app) {
  auto data = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto site = std::make_shared<std::string>();

  CLI::App* log = app.add_subcommand(
      "verify-log", "校验事件日志哈希链，指出第一处断链 / check a data dir's event chain");
  log->add_option("--data", *data, "数据目录 / data directory")->required();
  log->add_option("--site-config", *config,
                  "站点配置目录（用于校验链头签名）/ for head signatures");
  log->callback([=] { exit_code() = verify_log_cmd(*data, *config); });

  CLI::App* lic = app.add_subcommand(
      "verify-license", "离线验证电子证照 / verify an e-license offline with public keys");
  lic->add_option("file", *file, "证照文件（JSON）/ license file")->required();
  lic->add_option("--site-config", *config, "站点配置目录（含 keys/）/ site-config with keys/")
      ->required();
  lic->callback([=] { exit_code() = verify_license_cmd(*file, *config); });

  CLI::App* rb =
      app.add_subcommand("rebuild", "由事件日志重建全部投影 / rebuild projections from the log");
  rb->add_option("--data", *data, "数据目录 / data directory")->required();
  rb->add_option("--site-config", *config, "站点配置目录 / site-config directory")->required();
  rb->add_option("--site", *site, "站点编号 / site id")->required();
  auto key_file = std::make_shared<std::string>();
  rb->add_option("--key-file", *key_file,
                 "密钥加密密钥文件；也可用 TONGBAN_KEY_FILE 或 TONGBAN_PASSPHRASE / the KEK file");
  rb->callback([=] { exit_code() = rebuild_cmd(*data, *config, *site, *key_file); });
}

}  // namespace tongban::cli
