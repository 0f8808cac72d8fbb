// tongban export-bundle / import-bundle: replication without any link. The node's events
// the hub has not acknowledged go into one file, signed by the site (the batch signature)
// and sealed to the hub's key (crypto_box_seal); anyone can carry it. The hub imports it
// exactly once, and the live link later resumes after what it brought.
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "tongban/node/store.h"
#include "tongban/shared/config.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"
#include "tongban/sync/sync_client.h"

namespace tongban::cli {

namespace {

int fail(const Status& s) {
  std::cerr << "tongban export-bundle: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 2;
}

int export_bundle(const std::string& config_dir, const std::string& site, const std::string& data,
                  const std::string& out) {
  auto district = load_district(config_dir);
  if (!district.ok()) return fail(district.status());
  auto hub_key = district->public_keys.find(district->hub_id);
  if (hub_key == district->public_keys.end() || !curve_public_from(hub_key->second))
    return fail(Status::NotFound("no_hub_key", "站点配置中没有区级中心公钥",
                                 "no hub key in site-config/keys"));
  const std::filesystem::path dir(data);
  auto key = SigningKey::load(dir / node::NodeStore::kKeyFile);
  if (!key.ok()) return fail(key.status());
  auto acked = sync::SyncClient::recorded_ack(dir / node::NodeStore::kDbFile, site);
  if (!acked.ok()) return fail(acked.status());
  auto db = Db::open(dir / node::NodeStore::kDbFile);
  if (!db.ok()) return fail(db.status());
  sync::Replica replica(*db);
  auto events = replica.read(site, *acked + 1, std::numeric_limits<int64_t>::max());
  if (!events.ok()) return fail(events.status());
  if (events->empty()) {
    std::cout << "nothing to export: the hub holds every event up to seq " << *acked
              << " / 中心已有全部事件\n";
    return 0;
  }
  pb::Bundle bundle;
  *bundle.mutable_batch() = sync::make_batch(*events, *key);
  bundle.set_created_ts(events->back().ts);
  const std::string sealed = seal(bundle.SerializeAsString(), *curve_public_from(hub_key->second));
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file.write(sealed.data(), static_cast<std::streamsize>(sealed.size()));
  if (!file) return fail(Status::Unavailable("cannot write " + out));
  std::cout << "exported events " << events->front().seq << ".." << events->back().seq << " of "
            << site << " to " << out << " (" << sealed.size()
            << " bytes, sealed to the hub) / 已导出\n";
  return 0;
}

}  // namespace

void add_bundle(CLI::App& app) {
  auto config = std::make_shared<std::string>("site-config");
  auto site = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* ex = app.add_subcommand(
      "export-bundle",
      "导出未同步事件为离线包（签名并加密给区级中心）/ export unsynced events as a sealed bundle");
  ex->add_option("--site-config", *config, "站点配置目录 / site-config directory");
  ex->add_option("--site", *site, "站点编号 / site id")->required();
  ex->add_option("--data", *data, "数据目录 / data directory")->required();
  ex->add_option("--out", *out, "离线包文件 / bundle file")->required();
  ex->callback([=] { exit_code() = export_bundle(*config, *site, *data, *out); });
}

}  // namespace tongban::cli
