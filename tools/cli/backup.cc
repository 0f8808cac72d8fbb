// tongban backup / restore-backup: a nightly copy of a running node or hub, and the way
// back from it.
//
// The backup is one SQLite file: the daemon's database copied with VACUUM INTO from a
// second connection (a consistent snapshot under WAL while the daemon goes on writing),
// plus a table tongban_backup holding what it is (kind, site, version, heads) and the
// files beside the database: keys.sealed always (sealed under the KEK, which never goes
// into a backup, and without which the residents' sealed fields cannot be read), the
// signing identity (site.key / hub.key) and the other unsealed secrets beside it (the
// district CA's key, the HTTPS certificate and key) only with --with-keys.
//
// restore-backup fills an empty data directory. For a node it then asks the hub for the
// site's events after the backup's head, verified link by link against the backup's last
// hash and the site's signature over the hub's head, and appends them: a node restored
// from last night's backup continues at its true head, never re-using a sequence number
// (a fork the hub would refuse; see docs/protocol.md "Forks").
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "hub_chain.h"
#include "tongban/hub/hub_service.h"
#include "tongban/hub/hub_store.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/head_witness.h"
#include "tongban/sync/transport.h"

namespace tongban::cli {

namespace {

namespace fs = std::filesystem;


double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

Result<std::string> read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound("no_file", "无法读取文件：" + file.string(), "cannot read " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) return Status::Unavailable("cannot write " + file.string());
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  return Status::Ok();
}

// What a data directory holds: a node's or the hub's database, and its identity file.
struct Layout {
  std::string kind;  // "node" or "hub"
  const char* db_file;
  const char* key_file;
};

constexpr const char* kCaKeyFile = "district-ca.key";  // the hub's, by default (tongban cert)

const Layout kNode{"node", node::NodeStore::kDbFile, node::NodeStore::kKeyFile};
const Layout kHub{"hub", hub::HubStore::kDbFile, hub::HubService::kKeyFile};

// Every chain's head in `db` (origin → seq), for the summary and the meta table.
Result<std::vector<std::pair<std::string, int64_t>>> heads(Db& db) {
  auto s = db.prepare("SELECT origin, seq FROM chain_head ORDER BY origin");
  if (!s.ok()) return s.status();
  return collect_rows<std::pair<std::string, int64_t>>(
      *s, [](const Stmt& r) { return std::pair{r.text_at(0), r.int_at(1)}; });
}

struct BackupOptions {
  std::string data, out;
  bool with_keys = false;
};

int backup(const BackupOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path data(o.data), out(o.out);
  const Layout* layout = fs::exists(data / kNode.db_file) ? &kNode
                         : fs::exists(data / kHub.db_file) ? &kHub
                                                           : nullptr;
  if (!layout)
    return failed(Status::NotFound("no_database", "数据目录中没有 node.db 或 hub.db：" + data.string(),
                                 "no node.db or hub.db in " + data.string()));
  if (fs::exists(out))
    return failed(Status::Conflict("backup_exists", "备份文件已存在，不会覆盖：" + out.string(),
                                 "the backup file exists; it is never overwritten: " + out.string()));
  const fs::path partial = out.string() + ".partial";
  // The keyring read around the copy: a data key rotated or retired meanwhile (the node's
  // re-sealing finishes) would leave rows sealed under keys the copied keyring lacks.
  std::string keyring;
  for (int attempt = 0;; ++attempt) {
    auto before = read_file(data / Keyring::kFile);
    if (!before.ok()) return failed(before.status());
    fs::remove(partial);
    {
      // A second connection, read-only in effect: the daemon keeps writing meanwhile, and
      // VACUUM INTO copies the one snapshot this statement reads.
      auto db = Db::open(data / layout->db_file);
      if (!db.ok()) return failed(db.status());
      auto vacuum = db->prepare("VACUUM INTO ?1");
      if (!vacuum.ok()) return failed(vacuum.status());
      if (Status s = vacuum->bind(1, partial.string()).run(); !s.ok()) return failed(s);
    }
    auto after = read_file(data / Keyring::kFile);
    if (!after.ok()) return failed(after.status());
    if (*after == *before) {
      keyring = std::move(*after);
      break;
    }
    if (attempt == 2)
      return failed(Status::Unavailable("the data keys changed during three copies in a row; retry later"));
  }
  auto copy = Db::open(partial, Db::Options{.full_sync = true, .wal = false, .busy_timeout_ms = 5000});
  if (!copy.ok()) return failed(copy.status());
  if (Status s = copy->exec("PRAGMA journal_mode=DELETE"); !s.ok()) return failed(s);
  auto chains = heads(*copy);
  if (!chains.ok()) return failed(chains.status());
  auto version = copy->prepare("PRAGMA user_version");
  if (!version.ok() || !version->step().ok()) return failed(Status::Corruption("cannot read the schema version"));
  const int64_t schema = version->int_at(0);
  version = Status::Unavailable("done");

  std::vector<std::pair<std::string, std::string>> meta{
      {"kind", layout->kind},
      {"tongban_version", TONGBAN_VERSION},
      {"schema_version", std::to_string(schema)},
      {"created", std::to_string(std::time(nullptr))}};
  for (const auto& [origin, seq] : *chains) meta.emplace_back("head:" + origin, std::to_string(seq));
  std::vector<std::string> files{Keyring::kFile};
  if (o.with_keys)
    for (const std::string& f : {std::string(layout->key_file), std::string(kCaKeyFile), std::string("tls.key"),
                                std::string("tls.crt")})
      if (f == layout->key_file || fs::exists(data / f)) files.push_back(f);
  {
    Transaction tx(*copy);
    if (!tx.begun().ok()) return failed(tx.begun());
    if (Status s = copy->exec("CREATE TABLE tongban_backup(name TEXT PRIMARY KEY, value BLOB NOT NULL)");
        !s.ok())
      return failed(s);
    auto put = copy->prepare("INSERT INTO tongban_backup(name, value) VALUES(?1, ?2)");
    if (!put.ok()) return failed(put.status());
    for (const auto& [k, v] : meta)
      if (Status s = put->bind(1, k).bind(2, v).run(); !s.ok()) return failed(s);
    for (const std::string& f : files) {
      auto bytes = f == Keyring::kFile ? Result<std::string>(keyring) : read_file(data / f);
      if (!bytes.ok()) return failed(bytes.status());
      if (Status s = put->bind(1, "file:" + f).bind_blob(2, bytes->data(), bytes->size()).run(); !s.ok())
        return failed(s);
    }
    if (Status s = tx.commit(); !s.ok()) return failed(s);
  }
  copy = Status::Unavailable("closed");
  std::error_code ec;
  fs::rename(partial, out, ec);
  if (ec) return failed(Status::Unavailable("cannot rename to " + out.string() + ": " + ec.message()));
  std::cout << layout->kind << " backup " << out.string() << ": " << fs::file_size(out) << " bytes, schema "
            << schema;
  for (const auto& [origin, seq] : *chains) std::cout << ", " << origin << " at " << seq;
  std::cout << (o.with_keys ? ", identity key included" : ", identity key left out") << ", in "
            << seconds_since(t0) << " s / 备份完成\n";
  return 0;
}

struct RestoreBackupOptions {
  std::string from, data, config_dir = "site-config", key_file, site;
  HubLink hub;
  bool new_identity = false;  // publish an identity key that is not site-config's
};

Status not_a_backup(const std::string& file, const std::string& why) {
  return Status::InvalidArgument("not_a_backup", "不是有效的 tongban 备份文件（" + why + "）：" + file,
                                 "not a tongban backup (" + why + "): " + file);
}

// The files a restore may write beside the database (a backup holds nothing else of ours).
bool restorable(const std::string& name, const Layout& layout) {
  return name == Keyring::kFile || name == layout.key_file || name == kCaKeyFile ||
         name == "tls.key" || name == "tls.crt";
}

int restore_backup(const RestoreBackupOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path data(o.data);
  if (fs::exists(data / kNode.db_file) || fs::exists(data / kHub.db_file))
    return failed(Status::Conflict("data_dir_not_empty",
                                 "数据目录中已有数据库，恢复只写入新的空目录：" + data.string(),
                                 "the data directory already holds a database: restore-backup "
                                 "fills an empty one (" + data.string() + ")"));
  // What the backup is, read before anything is written.
  std::map<std::string, std::string> meta, files;
  {
    auto b = Db::open(o.from, Db::Options{.full_sync = true, .wal = false, .busy_timeout_ms = 5000});
    if (!b.ok()) return failed(not_a_backup(o.from, "cannot open"));
    auto rows = b->prepare("SELECT name, value FROM tongban_backup");
    if (!rows.ok()) return failed(not_a_backup(o.from, "no tongban_backup table"));
    for (;;) {
      auto r = rows->step();
      if (!r.ok()) return failed(not_a_backup(o.from, "unreadable"));
      if (!*r) break;
      const std::string name = rows->text_at(0);
      if (name.rfind("file:", 0) == 0) files[name.substr(5)] = rows->blob_at(1);
      else meta[name] = rows->text_at(1);
    }
  }
  const Layout* layout = meta["kind"] == "node" ? &kNode : meta["kind"] == "hub" ? &kHub : nullptr;
  if (!layout) return failed(not_a_backup(o.from, "unknown kind"));
  const bool is_node = layout == &kNode;
  if (is_node && o.site.empty())
    return failed(Status::InvalidArgument("no_site", "恢复站点备份须指定 --site", "a node's backup needs --site"));
  if (is_node && !meta.count("head:" + o.site))
    return failed(Status::InvalidArgument("wrong_site", "该备份不属于站点 " + o.site,
                                        "the backup is not site " + o.site + "'s"));
  // A node restored without the hub would append at sequence numbers the hub may hold
  // already (a fork): the events after the backup come back first, always.
  if (is_node && (o.hub.url.empty() || o.hub.token.empty()))
    return failed(Status::InvalidArgument(
        "no_hub", "请用 --url/--token 指定区级中心，以取回备份之后本站点的事件",
        "give the hub (--url, --token): the site's events after the backup come back from it"));
  auto district = load_district(o.config_dir);
  if (!district.ok()) return failed(district.status());
  const std::string owner = is_node ? o.site : district->hub_id;
  auto known = load_public_keys(o.config_dir, {owner});
  if (!known.ok()) return failed(known.status());
  if (!known->count(owner))
    return failed(Status::NotFound("no_site_key", "站点配置中没有公钥，无法校验：" + owner,
                                 "no keys/" + owner + ".pub in site-config to verify with"));
  const PublicKey published = known->at(owner);

  // Everything is assembled in a staging directory inside the target (the same file
  // system: a data directory may be a mount point) and moved in at the end, the database
  // last; a restore that fails removes it and leaves the target as it found it.
  fs::create_directories(data);
  fs::permissions(data, fs::perms::owner_all, fs::perm_options::replace);
  if (Status s = lock_data_dir(data); !s.ok()) return failed(s);
  const fs::path staging = data / ".restoring";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging);
  fs::permissions(staging, fs::perms::owner_all, fs::perm_options::replace);
  struct Discard {
    fs::path dir;
    ~Discard() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } discard{staging};
  // The keyring is the backup's: its data keys are the ones the copied rows are sealed
  // under. One already in the directory must be the same file.
  if (!files.count(Keyring::kFile)) return failed(not_a_backup(o.from, "no keyring"));
  if (fs::exists(data / Keyring::kFile)) {
    auto present = read_file(data / Keyring::kFile);
    if (!present.ok() || *present != files[Keyring::kFile])
      return failed(Status::Conflict("keyring_differs",
                                   "数据目录中的 keys.sealed 与备份中的不同，请移走后重试",
                                   "the data directory's keys.sealed differs from the backup's: move it away"));
  }
  // The operator's copy of a key file wins over the backup's.
  for (const auto& [name, bytes] : files)
    if (restorable(name, *layout) && !fs::exists(data / name))
      if (Status s = write_file(staging / name, bytes); !s.ok()) return failed(s);
  const auto staged_or_kept = [&](const std::string& name) {
    return fs::exists(data / name) ? data / name : staging / name;
  };
  // The keyring must open with the KEK given, or nothing sealed can be read.
  auto kek = kek_source(o.key_file);
  if (!kek.ok()) return failed(kek.status());
  auto keys = Keyring::unlock(staged_or_kept(Keyring::kFile), *kek, owner);
  if (!keys.ok()) return failed(keys.status());
  auto key = SigningKey::load(staged_or_kept(layout->key_file));
  const bool had_key = key.ok();
  if (!key.ok()) {
    if (!is_node)
      return failed(Status::NotFound(
          "no_identity", "备份中没有区级中心身份密钥：请先将 hub.key 复制到 " + data.string(),
          "the backup holds no hub identity: copy hub.key into " + data.string() + " first"));
    key = SigningKey::generate();
    if (Status s = key->save(staging / layout->key_file); !s.ok()) return failed(s);
  }
  // A node's new identity is published below; every site trusts the hub's key as it is.
  const bool new_identity = key->public_key() != published;
  if (new_identity && !is_node)
    return failed(Status::Conflict("hub_identity_differs",
                                 "hub.key 与站点配置中的区级中心公钥不符，各站点将不再信任该中心",
                                 "hub.key does not match site-config's hub key: no site would trust it"));
  // A key file that is there but not the published one (an old or revoked key, a wrong
  // copy) is not published silently: only when asked.
  if (new_identity && had_key && !o.new_identity)
    return failed(Status::Conflict(
        "identity_differs",
        "身份密钥与站点配置中已发布的公钥不符；确需启用该密钥请加 --new-identity",
        "the identity key is not the one site-config publishes; add --new-identity to publish it"));

  const fs::path staged_db = staging / layout->db_file;
  fs::copy_file(o.from, staged_db, ec);
  if (ec) return failed(Status::Unavailable("cannot copy the backup: " + ec.message()));
  uint64_t fetched = 0;
  std::vector<std::pair<std::string, std::string>> case_keys;
  {
    auto db = Db::open(staged_db);
    if (!db.ok()) return failed(db.status());
    if (Status s = db->exec("DROP TABLE tongban_backup"); !s.ok()) return failed(s);
    // Sessions signed in since the backup are gone, and none from before comes back.
    if (Status s = db->exec("DELETE FROM sessions"); !s.ok()) return failed(s);
    if (is_node) {
      auto log = sync::EventLog::open(*db, o.site, nullptr);
      if (!log.ok()) return failed(log.status());
      sync::ChainHead head = log->head();
      auto chain = fetch_chain(o.hub, *db, o.site, published, head.seq + 1, head.hash);
      if (!chain.ok()) return failed(chain.status());
      fetched = chain->appended;
      case_keys = std::move(chain->case_keys);
      if (chain->head.seq > head.seq) head = chain->head;
      // The head is this identity's to sign from here on; the witness starts at it.
      const Signature signature = key->sign(sync::chain_head_message(o.site, head));
      auto up = db->prepare("UPDATE chain_head SET signature=?2 WHERE origin=?1");
      if (!up.ok()) return failed(up.status());
      if (Status s = up->bind(1, o.site).bind_blob(2, signature.data(), signature.size()).run(); !s.ok())
        return failed(s);
      auto witness = sync::HeadWitness::open(staging / node::NodeStore::kHeadFile);
      if (!witness.ok()) return failed(witness.status());
      if (Status s = witness->write(o.site, head, signature); !s.ok()) return failed(s);
    }
  }
  SystemClock clock;
  if (!is_node) {
    // What the hub wrote after the backup, the sites applied: it waits for each of them to
    // hand it back before it writes again (docs/protocol.md "Backups").
    auto store = hub::HubStore::open(staging, *district, clock, *key, &*keys);
    if (!store.ok()) return failed(store.status());
    if (Status s = (*store)->await_returns(); !s.ok()) return failed(s);
  } else {
    // The events fetched are projected (and their case keys adopted) before the node runs.
    auto store = node::NodeStore::open(staging, o.site, &*key, *district, clock, &*keys);
    if (!store.ok()) return failed(store.status());
    if (fetched > 0) {
      if (Status s = (*store)->adopt_case_keys(case_keys); !s.ok()) return failed(s);
      if (Status s = (*store)->rebuild_projections(); !s.ok()) return failed(s);
    }
  }
  // A new identity is published (and the hub takes it) before anything moves into place.
  if (is_node && new_identity) {
    if (Status s = write_public_key(o.config_dir, o.site, key->public_key()); !s.ok()) return failed(s);
    std::cout << "new identity for " << o.site << ": keys/" << o.site << ".pub replaced\n";
    if (Status s = hub_reload_keys(o.hub); !s.ok()) return failed(s);
  }
  // Into place: every other file first, the database last (its presence means "restored").
  std::vector<fs::path> staged;
  for (const auto& e : fs::directory_iterator(staging))
    if (e.path().filename() != layout->db_file && e.path().filename() != "daemon.lock")
      staged.push_back(e.path());
  staged.push_back(staged_db);
  for (const fs::path& f : staged) {
    fs::rename(f, data / f.filename(), ec);
    if (ec) return failed(Status::Unavailable("cannot move " + f.string() + " into place: " + ec.message()));
  }
  if (is_node) {
    std::cout << "site " << o.site << " restored from " << o.from << " (head " << meta["head:" + o.site]
              << ") and " << fetched << " later event(s) from the hub, in " << seconds_since(t0)
              << " s; sign-ins and staff changes made after the backup are not in it / 已从备份恢复\n";
  } else {
    std::cout << "hub restored from " << o.from << " in " << seconds_since(t0)
              << " s; sites resend what it lacks when they connect, and it writes nothing to "
                 "them until each has returned what it applied after the backup / 已从备份恢复\n";
  }
  return 0;
}

}  // namespace

void add_backup(CLI::App& app) {
  auto b = std::make_shared<BackupOptions>();
  CLI::App* cmd = app.add_subcommand(
      "backup", "在线备份节点或区级中心（运行中亦可）/ take an online, consistent backup of a node or the hub");
  cmd->add_option("--data", b->data, "数据目录 / the daemon's data directory")->required();
  cmd->add_option("--out", b->out, "备份文件（不会覆盖）/ the backup file (never overwritten)")->required();
  cmd->add_flag("--with-keys", b->with_keys,
                "同时备份身份密钥（备份须妥善保管）/ include the identity key (guard the backup)");
  cmd->callback([b] { exit_code() = backup(*b); });

  auto r = std::make_shared<RestoreBackupOptions>();
  CLI::App* rs = app.add_subcommand(
      "restore-backup",
      "由备份恢复到新的空数据目录，并从区级中心补回之后的事件 / restore a backup into an empty "
      "data directory and fetch the later events from the hub");
  rs->add_option("--from", r->from, "备份文件 / the backup file")->required()->check(CLI::ExistingFile);
  rs->add_option("--data", r->data, "新的空数据目录 / the new, empty data directory")->required();
  rs->add_option("--site-config", r->config_dir, "站点配置目录 / site-config dir");
  rs->add_option("--site", r->site, "站点编号（节点备份）/ site id (a node's backup)");
  rs->add_option("--key-file", r->key_file,
                 "密钥加密密钥文件（与备份时相同）/ the KEK file (the same as when backed up)");
  rs->add_option("--url", r->hub.url, "区级中心地址 / the hub's URL");
  rs->add_option("--token", r->hub.token, "区级中心调度员令牌 / an operator's token at the hub")
      ->envname("TONGBAN_TOKEN");
  rs->add_flag("--new-identity", r->new_identity,
               "启用与已发布公钥不符的身份密钥并发布 / publish an identity key that differs from "
               "site-config's");
  rs->callback([r] { exit_code() = restore_backup(*r); });
}

}  // namespace tongban::cli
