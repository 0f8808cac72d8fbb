#include "tongban/shared/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <sstream>

#include "keys.pb.h"

namespace tongban {

namespace {

constexpr uint32_t kFileVersion = 1;

Status no_kek() {
  return Status::InvalidArgument(
      "no_kek",
      "未提供密钥加密密钥：请用 --key-file 指定密钥文件（或设置 TONGBAN_KEY_FILE / "
      "TONGBAN_PASSPHRASE）。居民数据加密存放，没有它无法启动",
      "no key-encryption key: pass --key-file (or set TONGBAN_KEY_FILE or "
      "TONGBAN_PASSPHRASE); residents' data is sealed at rest and cannot be opened without it");
}

Status write_file_0600(const std::filesystem::path& file, std::string_view bytes, bool exclusive) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC),
                        0600);
  if (fd < 0) return Status::Unavailable("cannot create " + file.string());
  const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::Unavailable("cannot write " + file.string());
}

std::string key_bytes(const SecretKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

bool to_key(std::string_view bytes, SecretKey& out) {
  if (bytes.size() != out.size()) return false;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return true;
}

std::string file_ad(const std::string& owner) { return "tongban keyring v1 " + owner; }

}  // namespace

Result<KekSource> kek_source(const std::string& key_file_flag) {
  KekSource k;
  if (!key_file_flag.empty()) {
    k.key_file = key_file_flag;
    return k;
  }
  if (const char* f = std::getenv("TONGBAN_KEY_FILE"); f && *f) {
    k.key_file = f;
    return k;
  }
  if (const char* p = std::getenv("TONGBAN_PASSPHRASE"); p && *p) {
    k.passphrase = p;
    if (k.passphrase.size() < 12)
      return Status::InvalidArgument("weak_passphrase", "口令至少 12 个字符",
                                     "the passphrase needs at least 12 characters");
    return k;
  }
  return no_kek();
}

Result<bool> create_key_file(const std::filesystem::path& file) {
  if (std::filesystem::exists(file)) return false;
  SecretKey k = random_key();
  std::string hex = to_hex(k) + "\n";
  const Status s = write_file_0600(file, hex, true);
  sodium_memzero(hex.data(), hex.size());
  sodium_memzero(k.data(), k.size());
  if (!s.ok()) return s;
  return true;
}

Result<SecretKey> read_key_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    return Status::NotFound("no_key_file", "密钥文件不存在或无法读取：" + file.string(),
                            "key file not found or unreadable: " + file.string());
  std::string hex;
  in >> hex;
  SecretKey k;
  const bool ok = from_hex(hex, k);
  sodium_memzero(hex.data(), hex.size());
  if (!ok)
    return Status::InvalidArgument("bad_key_file", "密钥文件格式错误（应为 64 位十六进制）：" + file.string(),
                                   "key file is not 32 bytes of hex: " + file.string());
  return k;
}

struct Keyring::Impl {
  std::string owner;
  CurveKeypair box;
  SecretKey blind{};
  mutable std::shared_mutex mu;   // guards keys and active
  std::map<uint32_t, std::pair<SecretKey, Timestamp>> keys;
  uint32_t active = 0;
  // The KEK this keyring was unlocked or saved with, for later saves.
  std::optional<SecretKey> kek;
  std::string kdf, salt;

  ~Impl() {
    sodium_memzero(box.secret_key.data(), box.secret_key.size());
    sodium_memzero(blind.data(), blind.size());
    for (auto& [id, k] : keys) sodium_memzero(k.first.data(), k.first.size());
    if (kek) sodium_memzero(kek->data(), kek->size());
  }
};

Keyring::Keyring(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;
Keyring::~Keyring() = default;

Keyring Keyring::generate(const std::string& owner, const SecretKey& blind_key, Timestamp now) {
  auto impl = std::make_unique<Impl>();
  impl->owner = owner;
  crypto_box_keypair(impl->box.public_key.data(), impl->box.secret_key.data());
  impl->blind = blind_key;
  impl->keys[1] = {random_key(), now};
  impl->active = 1;
  return Keyring(std::move(impl));
}

namespace {

// The KEK from its source; with a passphrase, Argon2id over it with `salt` (a new one
// when empty).
Result<SecretKey> kek_from(const KekSource& src, std::string& kdf, std::string& salt) {
  if (!src.key_file.empty()) {
    kdf = "keyfile";
    salt.clear();
    return read_key_file(src.key_file);
  }
  if (src.passphrase.empty()) return no_kek();
  kdf = "argon2id13";
  if (salt.empty()) {
    salt.resize(crypto_pwhash_SALTBYTES);
    randombytes_buf(salt.data(), salt.size());
  }
  return derive_key(src.passphrase, salt);
}

}  // namespace

Result<Keyring> Keyring::unlock(const std::filesystem::path& file, const KekSource& kek,
                                const std::string& owner) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return Status::NotFound("no_keyring", "数据密钥文件不存在：" + file.string() + "，请先运行 tongban provision",
                            "keyring not found: " + file.string() + " (run tongban provision)");
  std::stringstream ss;
  ss << in.rdbuf();
  pb::KeyringFile f;
  if (!f.ParseFromString(ss.str()) || f.version() != kFileVersion)
    return Status::Corruption("keyring file does not parse: " + file.string());
  const auto wrong = [&] {
    return Status::Unauthenticated(
        "wrong_kek", "密钥加密密钥不正确，无法打开本站点的数据密钥（" + file.string() + "）",
        "the key-encryption key does not open " + file.string() +
            " (a wrong key file or passphrase, or another site's keyring)");
  };
  if (f.owner() != owner) return wrong();
  if ((f.kdf() == "keyfile") != !kek.key_file.empty())
    return Status::InvalidArgument(
        "kek_kind", f.kdf() == "keyfile" ? "本站点的数据密钥由密钥文件保护，请用 --key-file"
                                         : "本站点的数据密钥由口令保护，请设置 TONGBAN_PASSPHRASE",
        f.kdf() == "keyfile" ? "this keyring is sealed under a key file: pass --key-file"
                             : "this keyring is sealed under a passphrase: set TONGBAN_PASSPHRASE");
  std::string kdf, salt = f.salt();
  auto k = kek_from(kek, kdf, salt);
  if (!k.ok()) return k.status();
  auto opened = aead_open(*k, f.box(), file_ad(owner));
  if (!opened.ok()) return wrong();
  pb::KeyringSecrets s;
  const bool parsed = s.ParseFromString(*opened);
  sodium_memzero(opened->data(), opened->size());
  auto impl = std::make_unique<Impl>();
  impl->owner = owner;
  if (!parsed || !to_key(s.box_secret(), impl->box.secret_key) || !to_key(s.blind_key(), impl->blind))
    return Status::Corruption("keyring secrets do not parse: " + file.string());
  crypto_scalarmult_base(impl->box.public_key.data(), impl->box.secret_key.data());
  for (const pb::DataKey& d : s.data_keys()) {
    SecretKey key;
    if (!to_key(d.key(), key)) return Status::Corruption("a data key is not 32 bytes");
    impl->keys[d.id()] = {key, d.created_ts()};
  }
  impl->active = s.active();
  if (!impl->keys.count(impl->active)) return Status::Corruption("the active data key is missing");
  s.Clear();
  impl->kek = *k;
  impl->kdf = kdf;
  impl->salt = salt;
  return Keyring(std::move(impl));
}

Status Keyring::save(const std::filesystem::path& file, const KekSource& kek) {
  std::string kdf, salt;
  auto k = kek_from(kek, kdf, salt);
  if (!k.ok()) return k.status();
  impl_->kek = *k;
  impl_->kdf = kdf;
  impl_->salt = salt;
  return save(file);
}

Status Keyring::save(const std::filesystem::path& file) const {
  if (!impl_->kek) return Status::Internal("keyring has no KEK to save with");
  pb::KeyringSecrets s;
  s.set_box_secret(key_bytes(impl_->box.secret_key));
  s.set_blind_key(key_bytes(impl_->blind));
  {
    std::shared_lock lock(impl_->mu);
    for (const auto& [id, k] : impl_->keys) {
      pb::DataKey* d = s.add_data_keys();
      d->set_id(id);
      d->set_key(key_bytes(k.first));
      d->set_created_ts(k.second);
    }
    s.set_active(impl_->active);
  }
  std::string plain = s.SerializeAsString();
  pb::KeyringFile f;
  f.set_version(kFileVersion);
  f.set_owner(impl_->owner);
  f.set_kdf(impl_->kdf);
  f.set_salt(impl_->salt);
  f.set_box(aead_seal(*impl_->kek, plain, file_ad(impl_->owner)));
  sodium_memzero(plain.data(), plain.size());
  s.Clear();
  const std::filesystem::path tmp = file.string() + ".tmp";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  TB_RETURN_IF_ERROR(write_file_0600(tmp, f.SerializeAsString(), true));
  std::filesystem::rename(tmp, file, ec);
  if (ec) return Status::Unavailable("cannot replace " + file.string() + ": " + ec.message());
  // The rename itself must survive a power cut: rows are sealed under the new data key as
  // soon as this returns.
  const int dir = ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Status::Unavailable("cannot open the directory of " + file.string());
  const bool synced = ::fsync(dir) == 0;
  ::close(dir);
  if (!synced) return Status::Unavailable("cannot sync the directory of " + file.string());
  return Status::Ok();
}

const std::string& Keyring::owner() const { return impl_->owner; }
CurveKeypair Keyring::box() const { return impl_->box; }

std::string Keyring::blind(std::string_view normalised) const {
  return keyed_hash(impl_->blind, normalised, 16);
}

std::string Keyring::seal_row(std::string_view plaintext, std::string_view ad) const {
  std::shared_lock lock(impl_->mu);
  const uint32_t id = impl_->active;
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(id >> (8 * i));
  out += aead_seal(impl_->keys.at(id).first, plaintext, ad);
  return out;
}

namespace {
uint32_t row_key_id(std::string_view sealed) {
  uint32_t id = 0;
  for (int i = 0; i < 4; ++i) id |= uint32_t(static_cast<uint8_t>(sealed[i])) << (8 * i);
  return id;
}
}  // namespace

Result<std::string> Keyring::open_row(std::string_view sealed, std::string_view ad) const {
  if (sealed.size() < 4) return Status::Corruption("sealed row too short");
  std::shared_lock lock(impl_->mu);
  auto it = impl_->keys.find(row_key_id(sealed));
  if (it == impl_->keys.end()) return Status::Corruption("sealed row names an unknown data key");
  return aead_open(it->second.first, sealed.substr(4), ad);
}

bool Keyring::row_current(std::string_view sealed) const {
  std::shared_lock lock(impl_->mu);
  return sealed.size() >= 4 && row_key_id(sealed) == impl_->active;
}

uint32_t Keyring::rotate(Timestamp now) {
  std::unique_lock lock(impl_->mu);
  const uint32_t id = impl_->keys.rbegin()->first + 1;
  impl_->keys[id] = {random_key(), now};
  impl_->active = id;
  return id;
}

Result<uint32_t> Keyring::rotate(Timestamp now, const std::filesystem::path& file) {
  uint32_t previous = 0;
  {
    std::shared_lock lock(impl_->mu);
    previous = impl_->active;
  }
  const uint32_t id = rotate(now);
  if (Status s = save(file); !s.ok()) {
    std::unique_lock lock(impl_->mu);
    impl_->active = previous;
    sodium_memzero(impl_->keys[id].first.data(), 32);
    impl_->keys.erase(id);
    return s;
  }
  return id;
}

void Keyring::retire_others() {
  std::unique_lock lock(impl_->mu);
  for (auto it = impl_->keys.begin(); it != impl_->keys.end();) {
    if (it->first == impl_->active) {
      ++it;
      continue;
    }
    sodium_memzero(it->second.first.data(), it->second.first.size());
    it = impl_->keys.erase(it);
  }
}

uint32_t Keyring::active_key() const {
  std::shared_lock lock(impl_->mu);
  return impl_->active;
}

std::vector<uint32_t> Keyring::key_ids() const {
  std::shared_lock lock(impl_->mu);
  std::vector<uint32_t> ids;
  for (const auto& [id, k] : impl_->keys) ids.push_back(id);
  return ids;
}

Result<size_t> reseal_rows(Db& db, const Keyring& keys, const std::string& table,
                           const std::string& key_column, const std::string& column, size_t n,
                           const std::string& where) {
  std::string active(4, '\0');
  for (int i = 0; i < 4; ++i) active[i] = static_cast<char>(keys.active_key() >> (8 * i));
  auto stmt = db.cached("SELECT " + key_column + ", " + column + " FROM " + table + " WHERE (" +
                        where + ") AND substr(" + column + ", 1, 4) <> ?1 LIMIT ?2");
  if (!stmt.ok()) return stmt.status();
  stmt->bind_blob(1, active.data(), active.size()).bind(2, static_cast<int64_t>(n));
  auto rows = collect_rows<std::pair<std::string, std::string>>(
      *stmt, [](const Stmt& r) { return std::pair{r.text_at(0), r.blob_at(1)}; });
  if (!rows.ok()) return rows.status();
  auto update =
      db.cached("UPDATE " + table + " SET " + column + "=?2 WHERE " + key_column + "=?1");
  if (!update.ok()) return update.status();
  for (const auto& [id, sealed] : *rows) {
    auto plain = keys.open_row(sealed, id);
    if (!plain.ok()) return plain.status();
    const std::string again = keys.seal_row(*plain, id);
    sodium_memzero(plain->data(), plain->size());
    TB_RETURN_IF_ERROR(update->bind(1, id).bind_blob(2, again.data(), again.size()).run());
  }
  return rows->size();
}

}  // namespace tongban
