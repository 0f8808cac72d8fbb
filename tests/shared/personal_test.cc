// Residents' data at rest: the keyring under its KEK, sealed event fields, blind indexes.
#include "tongban/shared/personal.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "support/test_support.h"
#include "tongban/shared/keyring.h"

using namespace tongban;

namespace {

std::string read_bytes(const std::filesystem::path& f) {
  std::ifstream in(f, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pb::CaseEvent submitted() {
  pb::CaseEvent e;
  auto* s = e.mutable_submitted();
  s->set_item_code("RS001");
  s->mutable_applicant()->set_name("金丝雀甲");
  s->mutable_applicant()->set_id_number("11010519491231002x");
  s->mutable_applicant()->set_phone("139 1234 5678");
  auto* f = s->add_form();
  f->set_name("address");
  f->set_value("高新路 88 号");
  auto* g = s->add_form();
  g->set_name("empty");
  s->set_promised_days(5);
  return e;
}

}  // namespace

TEST_CASE("a keyring opens only with its own KEK and owner", "[shared][personal]") {
  test::TempDir dir;
  const auto kek = dir.path() / "S01.kek";
  REQUIRE(*create_key_file(kek));
  CHECK_FALSE(*create_key_file(kek));  // never overwritten
  struct stat st {};
  REQUIRE(::stat(kek.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const SecretKey blind = random_key();
  Keyring k = Keyring::generate("S01", blind, 100);
  const auto file = dir.path() / Keyring::kFile;
  REQUIRE(k.save(file, KekSource{kek, ""}).ok());
  const std::string row = k.seal_row("金丝雀甲", "S01-1");

  auto opened = Keyring::unlock(file, KekSource{kek, ""}, "S01");
  REQUIRE(opened.ok());
  CHECK(*opened->open_row(row, "S01-1") == "金丝雀甲");
  CHECK(opened->blind("id:1") == k.blind("id:1"));
  CHECK(opened->box().public_key == k.box().public_key);
  CHECK_FALSE(opened->open_row(row, "S01-2").ok());  // bound to its row

  const auto other = dir.path() / "other.kek";
  REQUIRE(*create_key_file(other));
  CHECK(Keyring::unlock(file, KekSource{other, ""}, "S01").status().reason() == "wrong_kek");
  CHECK(Keyring::unlock(file, KekSource{kek, ""}, "S02").status().reason() == "wrong_kek");
  CHECK(Keyring::unlock(file, KekSource{"", "a passphrase long enough"}, "S01").status().reason() ==
        "kek_kind");
  CHECK(Keyring::unlock(dir.path() / "absent", KekSource{kek, ""}, "S01").status().reason() ==
        "no_keyring");
  // The file holds no secret in clear.
  const std::string bytes = read_bytes(file);
  const std::string raw_blind(reinterpret_cast<const char*>(blind.data()), blind.size());
  CHECK(bytes.find(raw_blind) == std::string::npos);
}

TEST_CASE("a passphrase keyring opens with the passphrase only", "[shared][personal]") {
  test::TempDir dir;
  Keyring k = Keyring::generate("HUB", random_key(), 0);
  const auto file = dir.path() / Keyring::kFile;
  REQUIRE(k.save(file, KekSource{"", "正确的口令 correct horse"}).ok());
  CHECK(Keyring::unlock(file, KekSource{"", "正确的口令 correct horse"}, "HUB").ok());
  CHECK(Keyring::unlock(file, KekSource{"", "wrong passphrase here"}, "HUB").status().reason() ==
        "wrong_kek");
}

TEST_CASE("rotating the data key keeps old rows readable until they are re-sealed", "[shared][personal]") {
  test::TempDir dir;
  const auto kek = dir.path() / "k";
  REQUIRE(*create_key_file(kek));
  Keyring k = Keyring::generate("S01", random_key(), 0);
  REQUIRE(k.save(dir.path() / Keyring::kFile, KekSource{kek, ""}).ok());
  const std::string old_row = k.seal_row("甲", "r");
  CHECK(k.row_current(old_row));
  CHECK(k.rotate(5) == 2);
  CHECK_FALSE(k.row_current(old_row));
  CHECK(*k.open_row(old_row, "r") == "甲");
  const std::string new_row = k.seal_row("甲", "r");
  CHECK(k.row_current(new_row));
  REQUIRE(k.save(dir.path() / Keyring::kFile).ok());
  auto reopened = Keyring::unlock(dir.path() / Keyring::kFile, KekSource{kek, ""}, "S01");
  REQUIRE(reopened.ok());
  CHECK(reopened->key_ids() == std::vector<uint32_t>{1, 2});
  reopened->retire_others();
  CHECK_FALSE(reopened->open_row(old_row, "r").ok());
  CHECK(*reopened->open_row(new_row, "r") == "甲");
}

TEST_CASE("an event's personal fields seal into its envelope and open back", "[shared][personal]") {
  Keyring keys = Keyring::generate("S01", random_key(), 0);
  pb::CaseEvent e = submitted();
  add_blind_indexes(e, keys);
  CHECK(e.submitted().applicant().id_number() == "11010519491231002X");  // x normalised
  const pb::CaseEvent plain = e;
  const SecretKey case_key = random_key();
  seal_personal(e, case_key, "S01-20261102-000001", "hub-copy");
  const std::string body = e.SerializeAsString();
  for (const char* canary : {"金丝雀甲", "11010519491231002", "1391234", "高新路"})
    CHECK(body.find(canary) == std::string::npos);
  CHECK(e.submitted().item_code() == "RS001");  // what is not personal stays readable
  CHECK(e.submitted().form(0).name() == "address");
  CHECK(e.submitted().applicant().blind() == plain.submitted().applicant().blind());
  CHECK(e.sealed().hub_key() == "hub-copy");

  pb::CaseEvent wrong_case = e;
  CHECK_FALSE(open_personal(wrong_case, case_key, "S01-20261102-000002").ok());
  pb::CaseEvent wrong_key = e;
  CHECK_FALSE(open_personal(wrong_key, random_key(), "S01-20261102-000001").ok());
  REQUIRE(open_personal(e, case_key, "S01-20261102-000001").ok());
  CHECK(e.SerializeAsString() == plain.SerializeAsString());
}

TEST_CASE("an event with nothing personal is stored as it is", "[shared][personal]") {
  pb::CaseEvent e;
  e.mutable_accepted()->set_accepted_date(20000);
  CHECK_FALSE(has_personal(e));
  seal_personal(e, random_key(), "S01-1", "");
  CHECK_FALSE(e.has_sealed());
  pb::CaseEvent note;
  note.mutable_refused()->set_reason("材料不齐");
  CHECK(has_personal(note));
}

TEST_CASE("the same person has the same blind index however the number is typed", "[shared][personal]") {
  Keyring keys = Keyring::generate("S01", random_key(), 0);
  CHECK(blind_id(keys, "11010519491231002x") == blind_id(keys, " 11010519491231002X "));
  CHECK(blind_id(keys, "１１０１０５１９４９１２３１００２Ｘ") == blind_id(keys, "11010519491231002X"));
  CHECK(blind_id(keys, "11010519491231002X") != blind_id(keys, "110105194912310037"));
  CHECK(blind_phone(keys, "+86 139-1234-5678") == blind_phone(keys, "13912345678"));
  CHECK(blind_id(keys, "") .empty());
  // Another district's key gives another index: nothing links across districts.
  Keyring other = Keyring::generate("S01", random_key(), 0);
  CHECK(blind_id(other, "11010519491231002X") != blind_id(keys, "11010519491231002X"));
}
