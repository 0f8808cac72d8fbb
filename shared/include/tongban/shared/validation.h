// Identity validation: resident ID numbers (GB 11643), unified social credit codes
// (GB 32100) and mainland mobile numbers, plus the masking used wherever such a number
// could reach a log line.
//
// Thread safety: pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tongban/shared/calendar.h"
#include "tongban/shared/status.h"

namespace tongban {

// 18 characters, a known province code, a real birth date not after `today`, and the
// ISO 7064 MOD 11-2 check character (0-9 or X). Ok, or InvalidArgument naming which.
Status validate_resident_id(std::string_view id, Date today);

// What a resident ID number states (GB 11643): the birth date (characters 7-14), the sex
// (the 17th character: odd for a man, even for a woman) and the region where the number was
// first registered (characters 1-6, a GB/T 2260 code).
struct ResidentIdFacts {
  Date born;
  bool male = false;
  std::string region_code;
};
// The facts of `id`, or nullopt unless validate_resident_id(id, today) accepts it.
std::optional<ResidentIdFacts> resident_id_facts(std::string_view id, Date today);
// Whole years someone born on `born` has completed on `day` (a 29 February birthday comes on
// 1 March in common years); 0 before the birth date.
int age_on(Date born, Date day);

// 18 characters from the GB 32100 alphabet (no I, O, S, V, Z) with the MOD 31 check
// character. Ok, or InvalidArgument naming which.
Status validate_uscc(std::string_view code);

// The GB 11643 check character (0-9 or X) for the first 17 digits of a resident ID; '?'
// when `first17` is not 17 digits.
char resident_id_check_char(std::string_view first17);

// Mainland mobile: 11 digits starting 13–19.
Status validate_mobile(std::string_view phone);

// Free text a person typed: valid UTF-8, no control characters (with `multiline`, line
// breaks and tabs are allowed), at most `max_bytes`. InvalidArgument naming the field.
Status validate_text(std::string_view text, const char* zh_field, const char* en_field,
                     size_t max_bytes, bool multiline = false);
// The same for a field that must be filled: InvalidArgument (missing_field, "请填写…") when
// `text` is empty.
Status validate_required_text(std::string_view text, const char* zh_field, const char* en_field,
                              size_t max_bytes, bool multiline = false);
// Valid UTF-8 with no control characters other than tab, CR and LF.
bool is_clean_utf8(std::string_view text);
// Characters (code points) of valid UTF-8.
size_t utf8_length(std::string_view text);

// An amount of fen as yuan: 2550 -> "25.50", -5 -> "-0.05".
std::string format_yuan(int64_t fen);

// "610113199001011234" -> "610113********1234"; keeps only what a log reader needs to
// tell two cases apart. Anything of 10 characters or fewer is fully masked.
std::string mask_id(std::string_view id);
// "13912345678" -> "139****5678".
std::string mask_phone(std::string_view phone);

}  // namespace tongban
