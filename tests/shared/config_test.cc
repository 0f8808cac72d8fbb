#include "tongban/shared/config.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/test_support.h"

using namespace tongban;

TEST_CASE("the sample district has 12 centers, 5 park stations and agent points",
          "[shared][config]") {
  const District& d = test::sample_district();
  int centers = 0, parks = 0, agents = 0;
  for (const SiteConfig& s : d.sites) {
    centers += s.kind == SiteKind::kCenter;
    parks += s.kind == SiteKind::kParkStation;
    agents += s.kind == SiteKind::kAgentPoint;
    CHECK_FALSE(s.items.empty());
  }
  CHECK(centers == 12);
  CHECK(parks == 5);
  CHECK(agents >= 3);
  REQUIRE(d.site("S01"));
  CHECK(d.site("S01")->items.count("BZ001"));
}

TEST_CASE("a site listing an unknown item is refused with the file named", "[shared][config]") {
  test::TempDir dir;
  for (const char* f : {"catalog.toml", "calendar.toml"})
    std::filesystem::copy_file(std::filesystem::path(TONGBAN_SITE_CONFIG_DIR) / f, dir.path() / f);
  std::ofstream(dir.path() / "district.toml")
      << "name='x'\n[[site]]\nid='S1'\nkind='center'\nitems=['NOPE']\n";
  auto d = load_district(dir.path());
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().message_en().find("district.toml") != std::string::npos);
  std::ofstream(dir.path() / "district.toml", std::ios::trunc) << "name = [broken";
  CHECK(load_district(dir.path()).status().reason() == "invalid_config");
}
