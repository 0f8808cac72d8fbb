#include "tongban/shared/crypto.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cassert>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tongban {

Status init_crypto() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  return Status::Ok();
}

std::string to_hex(const uint8_t* data, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

template <size_t N>
bool from_hex(std::string_view hex, std::array<uint8_t, N>& out) {
  if (hex.size() != N * 2) return false;
  size_t len = 0;
  return sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &len, nullptr) == 0 &&
         len == N;
}
template bool from_hex<32>(std::string_view, std::array<uint8_t, 32>&);
template bool from_hex<64>(std::string_view, std::array<uint8_t, 64>&);

static_assert(sizeof(crypto_generichash_state) <= 384);

Hasher::Hasher() {
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_), nullptr, 0, 32);
}

Hasher& Hasher::update(const void* data, size_t n) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_),
                            static_cast<const unsigned char*>(data), n);
  return *this;
}

Hasher& Hasher::update_u64(uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  return update(b, 8);
}

Hasher& Hasher::update_field(std::string_view s) {
  update_u64(s.size());
  return update(s.data(), s.size());
}

Hash32 Hasher::finish() {
  Hash32 h;
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_), h.data(), h.size());
  return h;
}

SigningKey SigningKey::generate() {
  SigningKey k;
  crypto_sign_keypair(k.public_.data(), k.secret_.data());
  return k;
}

SigningKey::~SigningKey() { sodium_memzero(secret_.data(), secret_.size()); }

Result<SigningKey> SigningKey::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    return Status::NotFound("no_site_key", "站点密钥不存在：" + file.string(),
                            "site key file not found: " + file.string());
  std::string hex;
  in >> hex;
  SigningKey k;
  if (!from_hex(hex, k.secret_))
    return Status::Corruption("site key file is malformed: " + file.string());
  crypto_sign_ed25519_sk_to_pk(k.public_.data(), k.secret_.data());
  sodium_memzero(hex.data(), hex.size());
  return k;
}

Status SigningKey::save(const std::filesystem::path& file) const {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot create key file " + file.string());
  const std::string hex = to_hex(secret_) + "\n";
  const bool ok =
      ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::Unavailable("cannot write key file " + file.string());
}

Signature SigningKey::sign(std::string_view message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_.data());
  return sig;
}

CurveKeypair SigningKey::curve_keypair() const {
  CurveKeypair k;
  // Our own keys are valid points: these conversions cannot fail for them.
  [[maybe_unused]] const int pk = crypto_sign_ed25519_pk_to_curve25519(k.public_key.data(), public_.data());
  [[maybe_unused]] const int sk = crypto_sign_ed25519_sk_to_curve25519(k.secret_key.data(), secret_.data());
  assert(pk == 0 && sk == 0);
  return k;
}

std::optional<CurveKey> curve_public_from(const PublicKey& ed25519) {
  CurveKey out;
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), ed25519.data()) != 0) return std::nullopt;
  return out;
}

std::string seal(std::string_view plaintext, const CurveKey& recipient) {
  std::string out(plaintext.size() + crypto_box_SEALBYTES, '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()),
                  reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                  recipient.data());
  return out;
}

Result<std::string> unseal(std::string_view sealed, const CurveKeypair& recipient) {
  if (sealed.size() < crypto_box_SEALBYTES) return Status::Corruption("sealed box too short");
  std::string out(sealed.size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           recipient.public_key.data(), recipient.secret_key.data()) != 0)
    return Status::Corruption(
        "sealed box does not open with this key (wrong recipient or altered)");
  return out;
}

bool verify_signature(const PublicKey& key, std::string_view message, const Signature& sig) {
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

Result<std::string> hash_password(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return Status::Unavailable("argon2id: out of memory");
  return std::string(out);
}

bool verify_password(const std::string& stored_hash, std::string_view password) {
  return crypto_pwhash_str_verify(stored_hash.c_str(), password.data(), password.size()) == 0;
}

SecretKey random_key() {
  SecretKey k;
  randombytes_buf(k.data(), k.size());
  return k;
}

namespace {
const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Random nonces drawn from the kernel 42 at a time: one getrandom per sealed field was 3%
// of a node applying hand-overs (a syscall traps to the hypervisor on a paravirtualised
// VM). The bytes are the same CSPRNG's; each thread takes its own, each nonce once. A
// forked child drops what its parent's threads had drawn, so the two never share a nonce.
constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
std::atomic<uint64_t> g_fork_generation{0};

void take_nonce(unsigned char* out) {
  static const int registered = pthread_atfork(nullptr, nullptr, [] { ++g_fork_generation; });
  (void)registered;
  struct Pool {
    std::array<unsigned char, 42 * kNonce> bytes;
    size_t used = sizeof(bytes);
    uint64_t generation = 0;
  };
  thread_local Pool pool;
  const uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (pool.used == pool.bytes.size() || pool.generation != generation) {
    randombytes_buf(pool.bytes.data(), pool.bytes.size());
    pool.used = 0;
    pool.generation = generation;
  }
  std::memcpy(out, pool.bytes.data() + pool.used, kNonce);
  pool.used += kNonce;
}
}  // namespace

std::string aead_seal(const SecretKey& key, std::string_view plaintext, std::string_view ad) {
  std::string out(kNonce + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  take_nonce(o);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(o + kNonce, &len, bytes(plaintext), plaintext.size(),
                                             bytes(ad), ad.size(), nullptr, o, key.data());
  return out;
}

Result<std::string> aead_open(const SecretKey& key, std::string_view box, std::string_view ad) {
  constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (box.size() < kNonce + kTag) return Status::Corruption("sealed field too short");
  std::string out(box.size() - kNonce - kTag, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &len, nullptr, bytes(box) + kNonce,
          box.size() - kNonce, bytes(ad), ad.size(), bytes(box), key.data()) != 0)
    return Status::Corruption("sealed field does not open (wrong key or altered)");
  out.resize(len);
  return out;
}

std::string keyed_hash(const SecretKey& key, std::string_view data, size_t length) {
  std::string out(length, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), bytes(data),
                     data.size(), key.data(), key.size());
  return out;
}

Result<SecretKey> derive_key(std::string_view passphrase, std::string_view salt) {
  static_assert(crypto_pwhash_SALTBYTES == 16);
  if (salt.size() != crypto_pwhash_SALTBYTES) return Status::Corruption("KEK salt is not 16 bytes");
  SecretKey k;
  if (crypto_pwhash(k.data(), k.size(), passphrase.data(), passphrase.size(), bytes(salt),
                    crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Status::Unavailable("argon2id: out of memory deriving the key-encryption key");
  return k;
}

std::string random_token() {
  std::array<uint8_t, 32> b;
  randombytes_buf(b.data(), b.size());
  return to_hex(b);
}

std::string token_hash(std::string_view token) {
  const Hash32 h = Hasher().update(token).finish();
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace tongban
