#include "tongban/shared/crypto.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

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

TEST_CASE("sealed fields never share a nonce across threads or a fork", "[shared][crypto]") {
  const SecretKey key = random_key();
  constexpr size_t kNonce = 24;
  const auto nonce = [&] { return aead_seal(key, "张三", "row").substr(0, kNonce); };
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) REQUIRE(seen.insert(nonce()).second);  // past several refills
  std::vector<std::string> other(100);
  std::thread t([&] {
    for (auto& n : other) n = nonce();
  });
  t.join();
  for (const auto& n : other) REQUIRE(seen.insert(n).second);
  // A forked child draws afresh: the parent's next nonces are not the child's.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::string all;
    for (int i = 0; i < 10; ++i) all += nonce();
    const ssize_t wrote = write(fds[1], all.data(), all.size());
    _exit(wrote == static_cast<ssize_t>(all.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string from_child(10 * kNonce, '\0');
  size_t got = 0;
  while (got < from_child.size()) {
    const ssize_t n = read(fds[0], from_child.data() + got, from_child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(got == from_child.size());
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  for (int i = 0; i < 10; ++i) REQUIRE(seen.insert(nonce()).second);
  for (size_t i = 0; i < 10; ++i) REQUIRE(seen.insert(from_child.substr(i * kNonce, kNonce)).second);
  // And each still opens.
  REQUIRE(*aead_open(key, aead_seal(key, "张三", "row"), "row") == "张三");
}
