// Cryptography on libsodium: site identity keys (Ed25519), signatures, BLAKE2b hashing
// for the event chain, Argon2id password hashes and random tokens.
//
// Call init_crypto() once before anything else (idempotent, thread-safe). SigningKey is
// immutable after load; its const methods are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "tongban/shared/status.h"

namespace tongban {

Status init_crypto();

using Hash32 = std::array<uint8_t, 32>;
using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

std::string to_hex(const uint8_t* data, size_t n);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& a) {
  return to_hex(a.data(), N);
}
// Decodes exactly N bytes of hex; false on any other input.
template <size_t N>
bool from_hex(std::string_view hex, std::array<uint8_t, N>& out);
extern template bool from_hex<32>(std::string_view, std::array<uint8_t, 32>&);
extern template bool from_hex<64>(std::string_view, std::array<uint8_t, 64>&);

// Incremental BLAKE2b-256.
class Hasher {
 public:
  Hasher();
  Hasher& update(const void* data, size_t n);
  Hasher& update(std::string_view s) { return update(s.data(), s.size()); }
  Hasher& update_u64(uint64_t v);  // little-endian, fixed width
  // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
  Hasher& update_field(std::string_view s);
  Hash32 finish();

 private:
  alignas(64) unsigned char state_[384];
};

// X25519 keys for ZeroMQ CURVE and sealed boxes, derived from the Ed25519 identity
// (crypto_sign_ed25519_*_to_curve25519): one key file per site serves both.
using CurveKey = std::array<uint8_t, 32>;
struct CurveKeypair {
  CurveKey public_key{};
  CurveKey secret_key{};
};
// Fails (nullopt) for a point that has no X25519 equivalent.
std::optional<CurveKey> curve_public_from(const PublicKey& ed25519);

// crypto_box_seal to `recipient`: anonymous, so sign inside where origin matters.
std::string seal(std::string_view plaintext, const CurveKey& recipient);
// Corruption when the box was not sealed to this keypair or was altered.
Result<std::string> unseal(std::string_view sealed, const CurveKeypair& recipient);

// An Ed25519 identity. The secret never leaves the process except to its key file.
class SigningKey {
 public:
  static SigningKey generate();
  // Reads a key file written by save(); Corruption if malformed, NotFound if absent.
  static Result<SigningKey> load(const std::filesystem::path& file);
  // Writes the secret key (hex) with mode 0600; fails if the file exists.
  Status save(const std::filesystem::path& file) const;

  const PublicKey& public_key() const { return public_; }
  Signature sign(std::string_view message) const;
  CurveKeypair curve_keypair() const;

  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
  ~SigningKey();

 private:
  SigningKey() = default;
  std::array<uint8_t, 64> secret_{};
  PublicKey public_{};
};

bool verify_signature(const PublicKey& key, std::string_view message, const Signature& sig);

// Argon2id (crypto_pwhash_str, interactive limits). Unavailable if memory runs out.
Result<std::string> hash_password(std::string_view password);
bool verify_password(const std::string& stored_hash, std::string_view password);

// Symmetric keys: data keys, case keys, the district's blind-index key, a KEK.
using SecretKey = std::array<uint8_t, 32>;
SecretKey random_key();
// XChaCha20-Poly1305 (IETF AEAD) with a random 24-byte nonce: nonce || ciphertext || tag.
// `ad` is bound to the box (the row or stream it belongs to) but not stored in it.
std::string aead_seal(const SecretKey& key, std::string_view plaintext, std::string_view ad);
// Corruption when the box was sealed under another key or ad, or was altered.
Result<std::string> aead_open(const SecretKey& key, std::string_view box, std::string_view ad);
// Keyed BLAKE2b of `data`, `bytes` long (16..64): the blind index. Equal inputs give equal
// outputs, and without the key nothing can be learnt or checked.
std::string keyed_hash(const SecretKey& key, std::string_view data, size_t bytes = 32);
// Argon2id over a passphrase (moderate limits, 256 MiB): a KEK. `salt` is 16 bytes.
Result<SecretKey> derive_key(std::string_view passphrase, std::string_view salt);

// 32 random bytes as hex: session tokens, rating tickets.
std::string random_token();
// What is stored of such a token: its BLAKE2b hash (32 raw bytes), never the token.
std::string token_hash(std::string_view token);

}  // namespace tongban
