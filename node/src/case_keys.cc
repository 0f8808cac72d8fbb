#include "case_keys.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace tongban::node {

namespace {
constexpr size_t kCacheLimit = 262144;  // about 30 MB; a rebuild of 1M events touches ~250k cases

std::string key_bytes(const SecretKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}
}  // namespace

const std::string& CaseKeys::schema() {
  static const std::string kSql =
      "CREATE TABLE case_keys(stream_id TEXT PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID";
  return kSql;
}

CaseKeys::CaseKeys(Db& db, const Keyring* keys, std::optional<CurveKey> hub_box)
    : db_(db), keys_(keys) {
  if (keys_ && hub_box) hub_.emplace(*hub_box);
  if (keys_) unwrapper_.emplace(keys_->box());
}

CaseKeys::~CaseKeys() {
  for (auto& [id, e] : cache_) sodium_memzero(e.key.data(), e.key.size());
}

const CaseKeys::Entry* CaseKeys::remember(const std::string& stream_id, Entry e) {
  if (cache_.size() >= kCacheLimit) {
    for (auto& [id, old] : cache_) sodium_memzero(old.key.data(), old.key.size());
    cache_.clear();
  }
  unsettled_.insert(stream_id);
  auto& slot = cache_[stream_id];
  slot = std::move(e);
  return &slot;
}

void CaseKeys::settle(bool committed) {
  if (!committed)
    for (const std::string& id : unsettled_) cache_.erase(id);
  unsettled_.clear();
}

Result<const CaseKeys::Entry*> CaseKeys::find(const std::string& stream_id) {
  if (!keys_) return static_cast<const Entry*>(nullptr);
  if (auto it = cache_.find(stream_id); it != cache_.end()) return &it->second;
  auto stmt = db_.cached("SELECT sealed FROM case_keys WHERE stream_id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, stream_id);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return static_cast<const Entry*>(nullptr);
  const std::string sealed = stmt->blob_at(0);
  stmt->reset();
  Entry e;
  auto key = keys_->open_row(sealed, stream_id);
  if (!key.ok()) return key.status();
  if (key->size() != e.key.size()) return Status::Corruption("a case key is not 32 bytes");
  std::copy(key->begin(), key->end(), e.key.begin());
  sodium_memzero(key->data(), key->size());
  // The hub's copy is made when an event is sealed (for_append), not for every read.
  return remember(stream_id, std::move(e));
}

// The case key wrapped for the hub under this run's epoch (cheap: no X25519 per case); ""
// while the hub's box key is unknown.
std::string CaseKeys::hub_copy(const SecretKey& key, const std::string& stream_id) const {
  if (!hub_) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      spdlog::warn("no hub box key in site-config: the hub cannot read the personal fields of "
                   "cases sealed until it is there (from {} on)",
                   stream_id);
    return std::string();
  }
  return hub_->wrap(key, stream_id);
}

std::string CaseKeys::seal(const Keyring& keys, const SecretKey& key,
                           const std::string& stream_id) {
  std::string bytes = key_bytes(key);
  std::string sealed = keys.seal_row(bytes, stream_id);
  sodium_memzero(bytes.data(), bytes.size());
  return sealed;
}

Status CaseKeys::insert(const std::string& stream_id, const std::string& sealed) {
  auto stmt = db_.cached("INSERT INTO case_keys(stream_id, sealed) VALUES(?1,?2)");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, stream_id).bind_blob(2, sealed.data(), sealed.size()).run();
}

Result<const CaseKeys::Entry*> CaseKeys::for_append(const std::string& stream_id) {
  if (!keys_) return Status::Internal("sealing without a keyring");
  auto found = find(stream_id);
  if (!found.ok()) return found.status();
  if (*found) {
    Entry& held = cache_.at(stream_id);
    if (held.hub_key.empty()) held.hub_key = hub_copy(held.key, stream_id);
    return &held;
  }
  Entry e;
  e.key = random_key();
  e.hub_key = hub_copy(e.key, stream_id);
  TB_RETURN_IF_ERROR(insert(stream_id, seal(*keys_, e.key, stream_id)));
  return remember(stream_id, std::move(e));
}

Status CaseKeys::adopt(const std::string& stream_id, const std::string& sealed_to_me) {
  if (!keys_ || sealed_to_me.empty()) return Status::Ok();
  auto found = find(stream_id);
  if (!found.ok()) return found.status();
  if (*found) return Status::Ok();
  auto opened = unwrapper_->unwrap(sealed_to_me, stream_id);
  if (!opened.ok()) {
    // Wrapped for a box key this site no longer has (a delivery re-sent after the site was
    // restored with a new keyring): the hub's stream must not stop on it.
    spdlog::warn("case {}: the hub's copy of its key does not open with this site's box key",
                 stream_id);
    return Status::Ok();
  }
  const Status added = add(stream_id, *opened, seal(*keys_, *opened, stream_id));
  sodium_memzero(opened->data(), opened->size());
  return added;
}

Result<bool> CaseKeys::adopt_opened(const std::string& stream_id, const SecretKey& key,
                                    const std::string& sealed) {
  if (!keys_) return false;
  auto found = find(stream_id);
  if (!found.ok()) return found.status();
  if (*found) return sodium_memcmp((*found)->key.data(), key.data(), key.size()) == 0;
  TB_RETURN_IF_ERROR(add(stream_id, key, sealed));
  return true;
}

Status CaseKeys::add(const std::string& stream_id, const SecretKey& key,
                     const std::string& sealed) {
  TB_RETURN_IF_ERROR(insert(stream_id, sealed));
  Entry e;  // the hub's copy is made when this site seals an event of the case (for_append)
  e.key = key;
  remember(stream_id, std::move(e));
  return Status::Ok();
}

Status CaseKeys::open(pb::CaseEvent& e, const std::string& stream_id) {
  if (!e.has_sealed() || !keys_) return Status::Ok();
  auto found = find(stream_id);
  if (!found.ok()) return found.status();
  return open_with(e, *found ? &(*found)->key : nullptr, stream_id);
}

Status CaseKeys::open_with(pb::CaseEvent& e, const SecretKey* key, const std::string& stream_id) {
  // A case told here without its key (the hub could not read it either), or an envelope
  // sealed under another key (a site that had to make its own when none reached it): it
  // folds with those personal fields empty rather than making the case unreadable.
  if (!e.has_sealed() || !key) return Status::Ok();
  if (open_personal(e, *key, stream_id).ok()) return Status::Ok();
  spdlog::warn("case {}: an event's personal fields do not open with this site's case key",
               stream_id);
  return Status::Ok();
}

Result<size_t> CaseKeys::reseal(size_t n) {
  if (!keys_) return size_t{0};
  return reseal_rows(db_, *keys_, "case_keys", "stream_id", "sealed", n);
}

}  // namespace tongban::node
