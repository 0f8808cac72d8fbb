// Identity numbers, phones, dates, case ids and free text as typed at a window.
#include "fuzz_target.h"
#include "tongban/shared/calendar.h"
#include "tongban/shared/case.h"
#include "tongban/shared/validation.h"

using namespace tongban;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  (void)validate_resident_id(s, Date{20500});
  (void)validate_uscc(s);
  (void)validate_mobile(s);
  (void)validate_text(s, "字段", "field", 500, true);
  (void)is_clean_utf8(s);
  (void)mask_id(s);
  (void)mask_phone(s);
  (void)parse_date(s);
  (void)valid_case_id(s);
  if (s.size() >= 17) (void)resident_id_check_char(s.substr(0, 17));
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {"11010519491231002X", "91350100M000100Y43", "13912345678", "2026-02-29",
          "S01-20261127-000001", "张三\xe2\x80\x8b", std::string("\xf4\x90\x80\x80", 4)};
}
