#include "tongban/shared/crypto.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "support/test_support.h"

using namespace tongban;

TEST_CASE("a signature verifies only for its message and key", "[shared][crypto]") {
  const SigningKey k = SigningKey::generate();
  const Signature sig = k.sign("hello");
  CHECK(verify_signature(k.public_key(), "hello", sig));
  CHECK_FALSE(verify_signature(k.public_key(), "hellO", sig));
  CHECK_FALSE(verify_signature(SigningKey::generate().public_key(), "hello", sig));
}

TEST_CASE("a saved key file is private and loads back to the same identity", "[shared][crypto]") {
  test::TempDir dir;
  const SigningKey k = SigningKey::generate();
  REQUIRE(k.save(dir.path() / "site.key").ok());
  struct stat st {};
  REQUIRE(::stat((dir.path() / "site.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = SigningKey::load(dir.path() / "site.key");
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key() == k.public_key());
  CHECK_FALSE(k.save(dir.path() / "site.key").ok());  // never overwritten
  CHECK(SigningKey::load(dir.path() / "absent.key").status().code() == StatusCode::kNotFound);
}

TEST_CASE("passwords are stored as Argon2id and verified", "[shared][crypto]") {
  auto h = hash_password("正确的密码");
  REQUIRE(h.ok());
  CHECK(h->rfind("$argon2id$", 0) == 0);
  CHECK(verify_password(*h, "正确的密码"));
  CHECK_FALSE(verify_password(*h, "wrong"));
}

TEST_CASE("hashing is length-prefixed per field", "[shared][crypto]") {
  CHECK(Hasher().update_field("ab").update_field("c").finish() !=
        Hasher().update_field("a").update_field("bc").finish());
  Hash32 h{};
  CHECK(from_hex(to_hex(Hasher().update("x").finish()), h));
  CHECK_FALSE(from_hex("zz", h));
}
