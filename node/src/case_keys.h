// The node's case keys: one random key per case (or appointment) that seals the personal
// fields of its events (shared/personal.h). Stored sealed under the site's data key; every
// sealed event carries the key wrapped for the hub's box key (KeyWrapper: made in memory
// when the key is loaded, never stored). A case handed here brings its key wrapped for this
// site's box key.
//
// Thread safety: not thread-safe; NodeStore calls it under its lock. Keys created or read
// inside a write are forgotten again unless settle(true) says the write committed.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "tongban/shared/db.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/personal.h"

namespace tongban::node {

class CaseKeys : public EventOpener {
 public:
  struct Entry {
    SecretKey key{};
    std::string hub_key;  // wrapped for the hub: made by for_append ("" until then, or while
                          // the hub's box key is unknown)
  };
  static const std::string& schema();

  // `keys` null (read-only tools): events stay sealed. `hub_box`: the hub's box key, when
  // site-config has it.
  CaseKeys(Db& db, const Keyring* keys, std::optional<CurveKey> hub_box);
  ~CaseKeys() override;

  bool enabled() const { return keys_ != nullptr; }
  // The key to seal `stream_id`'s next event with, created on first use.
  Result<const Entry*> for_append(const std::string& stream_id);
  // A key the hub sealed to this site (a case handed here, or told of).
  Status adopt(const std::string& stream_id, const std::string& sealed_to_me);
  // The same with the key opened beforehand and `sealed` by seal() (off the store's lock);
  // true when `key` is the stream's key now (adopted here, or the same held already).
  Result<bool> adopt_opened(const std::string& stream_id, const SecretKey& key,
                            const std::string& sealed);
  // A stream's key sealed under the keyring's data key as case_keys keeps it.
  static std::string seal(const Keyring& keys, const SecretKey& key, const std::string& stream_id);
  // Opens `e`'s personal fields with its stream's key (null: none held, they stay sealed);
  // a key that does not open them is logged, and the event folds with them empty.
  static Status open_with(pb::CaseEvent& e, const SecretKey* key, const std::string& stream_id);
  Status open(pb::CaseEvent& e, const std::string& stream_id) override;
  // The stored key of a stream (cached), or null when there is none.
  Result<const Entry*> find(const std::string& stream_id);
  // Re-seals up to `n` rows not under the active data key; how many it re-sealed.
  Result<size_t> reseal(size_t n);
  // Ends a write: forgets what it cached unless it committed.
  void settle(bool committed);

 private:
  Status insert(const std::string& stream_id, const std::string& sealed);
  // Stores and caches a key adopted from the hub that find() did not hold.
  Status add(const std::string& stream_id, const SecretKey& key, const std::string& sealed);
  std::string hub_copy(const SecretKey& key, const std::string& stream_id) const;
  const Entry* remember(const std::string& stream_id, Entry e);

  Db& db_;
  const Keyring* keys_;
  std::optional<KeyWrapper> hub_;          // case keys for the hub (when its box key is known)
  std::optional<KeyUnwrapper> unwrapper_;  // case keys the hub gives this site
  std::unordered_map<std::string, Entry> cache_;
  std::set<std::string> unsettled_;
};

}  // namespace tongban::node
