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
#include "tongban/sync/transport.h"

namespace tongban::cli {

namespace {

int fail(const Status& s) {
  std::cerr << "tongban export-bundle: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 2;
}

// Writes `events`, signed with `key` and sealed to `recipient`'s X25519 key, to `out`;
// returns the file's size. The caller checked that the recipient key converts.
Result<size_t> write_bundle(const std::vector<sync::Event>& events, const SigningKey& key,
                            const PublicKey& recipient, const std::string& out) {
  pb::Bundle bundle;
  *bundle.mutable_batch() = sync::make_batch(events, key);
  bundle.set_created_ts(events.back().ts);
  const std::string sealed = seal(bundle.SerializeAsString(), *curve_public_from(recipient));
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file.write(sealed.data(), static_cast<std::streamsize>(sealed.size()));
  if (!file) return Status::Unavailable("cannot write " + out);
  return sealed.size();
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
  auto bytes = write_bundle(*events, *key, hub_key->second, out);
  if (!bytes.ok()) return fail(bytes.status());
  std::cout << "exported events " << events->front().seq << ".." << events->back().seq << " of "
            << site << " to " << out << " (" << *bytes
            << " bytes, sealed to the hub) / 已导出\n";
  return 0;
}

// The hub's stream to one site that the site has not applied, signed by the hub and sealed
// to the site's key: directives (hand-overs, cases handed in) and catalogs reach a site with
// no link. The site imports it exactly once (POST /api/v1/bundles on the node).
int export_hub_bundle(const std::string& config_dir, const std::string& site,
                      const std::string& data, const std::string& out, int64_t from) {
  auto district = load_district(config_dir);
  if (!district.ok()) return fail(district.status());
  if (!district->site(site))
    return fail(Status::InvalidArgument("unknown_site", "站点不存在：" + site, "no such site: " + site));
  auto site_key = district->public_keys.find(site);
  if (site_key == district->public_keys.end() || !curve_public_from(site_key->second))
    return fail(Status::NotFound("site_revoked", "站点未开通或已吊销：" + site,
                                 "site " + site + " has no public key in site-config/keys"));
  const std::filesystem::path dir(data);
  auto key = SigningKey::load(dir / "hub.key");
  if (!key.ok()) return fail(key.status());
  auto db = Db::open(dir / "hub.db");
  if (!db.ok()) return fail(db.status());
  if (from <= 0) {  // after what the site acknowledged over the link
    auto stmt = db->prepare("SELECT delivered_seq FROM site_state WHERE site=?1");
    if (!stmt.ok()) return fail(stmt.status());
    stmt->bind(1, site);
    auto row = stmt->step();
    if (!row.ok()) return fail(row.status());
    from = (*row ? stmt->int_at(0) : 0) + 1;
  }
  sync::Replica replica(*db);
  auto events = replica.read(sync::stream_origin(site), static_cast<uint64_t>(from),
                             std::numeric_limits<int64_t>::max());
  if (!events.ok()) return fail(events.status());
  if (events->empty()) {
    std::cout << "nothing to export: the site has applied the hub's stream up to seq "
              << from - 1 << " / 站点已有全部下发内容\n";
    return 0;
  }
  auto bytes = write_bundle(*events, *key, site_key->second, out);
  if (!bytes.ok()) return fail(bytes.status());
  std::cout << "exported the hub's stream " << events->front().seq << ".." << events->back().seq
            << " to " << site << " into " << out << " (" << *bytes
            << " bytes, sealed to the site) / 已导出\n";
  return 0;
}

}  // namespace

void add_bundle(CLI::App& app) {
  auto config = std::make_shared<std::string>("site-config");
  auto site = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto hub = std::make_shared<bool>(false);
  auto from = std::make_shared<int64_t>(0);
  CLI::App* ex = app.add_subcommand(
      "export-bundle",
      "导出未同步事件为离线包（签名并加密给区级中心）；--hub：导出中心发给某站点的下发内容 / "
      "export unsynced events as a sealed bundle; --hub: the hub's stream to a site");
  ex->add_option("--site-config", *config, "站点配置目录 / site-config directory");
  ex->add_option("--site", *site, "站点编号 / site id")->required();
  ex->add_option("--data", *data, "数据目录 / data directory")->required();
  ex->add_option("--out", *out, "离线包文件 / bundle file")->required();
  ex->add_flag("--hub", *hub,
               "在区级中心导出发给 --site 的下发内容（加密给该站点）/ on the hub: the stream to "
               "--site, sealed to that site");
  ex->add_option("--from", *from,
                 "与 --hub 同用：从该序号起导出（默认：站点已确认之后）/ with --hub: first stream "
                 "seq (default: after what the site acknowledged)");
  ex->callback([=] {
    exit_code() = *hub ? export_hub_bundle(*config, *site, *data, *out, *from)
                       : export_bundle(*config, *site, *data, *out);
  });
}

}  // namespace tongban::cli
