#include "tongban/shared/validation.h"

#include <catch2/catch.hpp>
#include <limits>

using namespace tongban;

namespace {
const Date kToday = date_from_ymd(2026, 11, 26);
}

TEST_CASE("resident ID numbers with a correct GB 11643 check digit are accepted",
          "[shared][validation]") {
  CHECK(validate_resident_id("11010519491231002X", kToday).ok());  // the standard's own example
  CHECK(validate_resident_id("440524188001010014", kToday).reason() ==
        "invalid_id_number");                                      // born before 1900
  CHECK(validate_resident_id("11010519491231002x", kToday).ok());  // lower-case x
  CHECK(validate_resident_id("110105194912310021", kToday).ok() == false);
}

TEST_CASE("resident ID numbers are rejected with the reason named", "[shared][validation]") {
  const Status wrong_check = validate_resident_id("110105194912310020", kToday);
  CHECK(wrong_check.reason() == "invalid_id_number");
  CHECK(wrong_check.message_zh().find("校验位错误") != std::string::npos);
  CHECK(validate_resident_id("1101051949123100", kToday).message_en().find("18") !=
        std::string::npos);
  CHECK(validate_resident_id("11010519490230002X", kToday).message_en().find("birth") !=
        std::string::npos);
  CHECK(validate_resident_id("99010519491231002X", kToday).message_en().find("region") !=
        std::string::npos);
  CHECK(validate_resident_id("1101051949123A002X", kToday).message_en().find("digits") !=
        std::string::npos);
  // Born tomorrow.
  CHECK(!validate_resident_id("110105202611270019", kToday).ok());
}

TEST_CASE("unified social credit codes follow the GB 32100 check character",
          "[shared][validation]") {
  CHECK(validate_uscc("91110108551385082Q").ok());
  CHECK(validate_uscc("91110108551385082A").reason() == "invalid_uscc");
  CHECK(validate_uscc("9111010855138508").reason() == "invalid_uscc");
  CHECK(validate_uscc("9111010855I385082Q").message_en().find("outside") != std::string::npos);
}

TEST_CASE("mobile numbers are 11 digits starting 13-19", "[shared][validation]") {
  CHECK(validate_mobile("13912345678").ok());
  CHECK(validate_mobile("19912345678").ok());
  CHECK(!validate_mobile("12912345678").ok());
  CHECK(!validate_mobile("1391234567").ok());
  CHECK(!validate_mobile("1391234567a").ok());
}

TEST_CASE("masking keeps no more of an ID or phone than a log reader needs",
          "[shared][validation]") {
  CHECK(mask_id("11010519491231002X") == "110105********002X");
  CHECK(mask_phone("13912345678") == "139****5678");
  CHECK(mask_id("123") == "***");
}

TEST_CASE("the facts a resident ID number states: birth date, sex and region",
          "[shared][validation]") {
  const auto facts = resident_id_facts("11010519491231002X", kToday);
  REQUIRE(facts);
  CHECK(facts->born == date_from_ymd(1949, 12, 31));
  CHECK_FALSE(facts->male);  // 17th digit 2: a woman
  CHECK(facts->region_code == "110105");
  CHECK(resident_id_facts("110105199001011232", kToday)->male);  // 17th digit 3: a man
  CHECK_FALSE(resident_id_facts("110105194912310021", kToday));  // check digit wrong
}

TEST_CASE("an age counts whole years completed on the day", "[shared][validation]") {
  const Date born = date_from_ymd(1946, 11, 3);
  CHECK(age_on(born, date_from_ymd(2026, 11, 2)) == 79);
  CHECK(age_on(born, date_from_ymd(2026, 11, 3)) == 80);
  CHECK(age_on(born, date_from_ymd(1946, 1, 1)) == 0);
  const Date leap = date_from_ymd(2000, 2, 29);
  CHECK(age_on(leap, date_from_ymd(2001, 2, 28)) == 0);
  CHECK(age_on(leap, date_from_ymd(2001, 3, 1)) == 1);
}

TEST_CASE("fen read as yuan with two places", "[shared][validation]") {
  CHECK(format_yuan(2550) == "25.50");
  CHECK(format_yuan(5) == "0.05");
  CHECK(format_yuan(100) == "1.00");
  CHECK(format_yuan(-5) == "-0.05");
  CHECK(format_yuan(0) == "0.00");
  CHECK(format_yuan(std::numeric_limits<int64_t>::min()) == "-92233720368547758.08");
}
