// The secrets a site (or the hub) keeps of residents' data, sealed at rest under a
// key-encryption key (KEK) the operator supplies at start: a key file on separate media
// (32 random bytes, hex) or a passphrase (Argon2id). Without the KEK the daemon does not
// start, and nothing on its data disk opens the keyring.
//
// Hierarchy (docs/architecture.md, "Residents' data at rest"):
//   KEK -> keys.sealed {box keypair, district blind-index key, data keys}
//   data key  -> rows at rest (case keys, appointment applicants, index names)
//   case key  -> the personal fields of one case's events (shared/personal.h)
//   box key   -> case keys sealed to this site or hub (hand-overs; the hub reads events)
//
// Thread safety: every const member is safe from any thread; rotate() and retire_others()
// take an internal lock against them, so a background re-seal can run beside requests.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tongban/shared/clock.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"
#include "tongban/shared/status.h"

namespace tongban {

// Where the KEK comes from: a key file, or a passphrase.
struct KekSource {
  std::filesystem::path key_file;
  std::string passphrase;
};
// --key-file when given, else $TONGBAN_KEY_FILE, else $TONGBAN_PASSPHRASE; InvalidArgument
// (no_kek, zh/en) when there is none: a daemon never runs without its KEK.
Result<KekSource> kek_source(const std::string& key_file_flag);
// Writes a new key file (32 random bytes, hex, mode 0600); false when one exists already.
Result<bool> create_key_file(const std::filesystem::path& file);
// Reads a district secret or key file: 32 bytes of hex.
Result<SecretKey> read_key_file(const std::filesystem::path& file);

class Keyring {
 public:
  static constexpr const char* kFile = "keys.sealed";

  // A new keyring for `owner` (a fresh box keypair and data key) with the district's
  // blind-index key.
  static Keyring generate(const std::string& owner, const SecretKey& blind_key, Timestamp now);
  // Opens data_dir/keys.sealed. NotFound (no_keyring) when absent; Unauthenticated
  // (wrong_kek) when the KEK does not open it or it belongs to another owner.
  static Result<Keyring> unlock(const std::filesystem::path& file, const KekSource& kek,
                                const std::string& owner);
  // Writes the keyring sealed under `kek` (atomically: a temporary file, fsync, rename;
  // mode 0600), and remembers the KEK for later saves.
  Status save(const std::filesystem::path& file, const KekSource& kek);
  // Writes it again under the KEK it was unlocked or saved with.
  Status save(const std::filesystem::path& file) const;

  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;
  ~Keyring();

  const std::string& owner() const;
  CurveKeypair box() const;
  // The blind index of a normalised identifier (shared/personal.h): keyed BLAKE2b, 16 raw
  // bytes (128 bits: no two residents of a country collide).
  std::string blind(std::string_view normalised) const;

  // A row at rest: 4-byte data key id || XChaCha20-Poly1305 box, `ad` bound (the row's key).
  std::string seal_row(std::string_view plaintext, std::string_view ad) const;
  Result<std::string> open_row(std::string_view sealed, std::string_view ad) const;
  // Whether a sealed row is under the active data key (else a re-seal is due).
  bool row_current(std::string_view sealed) const;

  // Key rotation: a new data key becomes the active one (rows are re-sealed by the store,
  // in the background); once none is left under an old key, retire_others() drops them.
  uint32_t rotate(Timestamp now);
  // The same, written durably to `file` before it is used; on a failed write the keyring
  // stays as it was. The caller keeps anything from sealing meanwhile.
  Result<uint32_t> rotate(Timestamp now, const std::filesystem::path& file);
  void retire_others();
  uint32_t active_key() const;
  std::vector<uint32_t> key_ids() const;

 private:
  struct Impl;
  explicit Keyring(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// After a rotation: re-seals up to `n` rows of `table` whose `column` is not under the
// active data key, each sealed with its `key_column` as associated data; `where` narrows
// the rows further (constant SQL). Inside the caller's transaction; returns how many it
// re-sealed. The table and column names are the caller's constants, never input.
Result<size_t> reseal_rows(Db& db, const Keyring& keys, const std::string& table,
                           const std::string& key_column, const std::string& column, size_t n,
                           const std::string& where = "1");

}  // namespace tongban
