#include "tongban/shared/validation.h"

#include <array>
#include <cctype>

namespace tongban {

namespace {

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool known_province(int code) {
  // GB/T 2260 province-level codes, incl. Taiwan (71), Hong Kong (81), Macao (82).
  static constexpr std::array kCodes = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                        35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                        53, 54, 61, 62, 63, 64, 65, 71, 81, 82};
  for (int c : kCodes)
    if (c == code) return true;
  return false;
}

Status bad_id(std::string zh, std::string en) {
  return Status::InvalidArgument("invalid_id_number", "身份证号码无效：" + zh,
                                 "invalid resident ID number: " + en);
}

}  // namespace

Status validate_resident_id(std::string_view id, Date today) {
  if (id.size() != 18) return bad_id("应为18位", "must be 18 characters");
  if (!all_digits(id.substr(0, 17))) return bad_id("前17位应为数字", "first 17 must be digits");
  const char last = static_cast<char>(std::toupper(static_cast<unsigned char>(id[17])));
  if (!((last >= '0' && last <= '9') || last == 'X'))
    return bad_id("校验位应为数字或X", "check character must be a digit or X");
  if (!known_province((id[0] - '0') * 10 + (id[1] - '0')))
    return bad_id("地址码不存在", "unknown region code");
  const std::string birth = std::string(id.substr(6, 4)) + "-" + std::string(id.substr(10, 2)) +
                            "-" + std::string(id.substr(12, 2));
  const std::optional<Date> born = parse_date(birth);
  if (!born || year_of(*born) < 1900 || *born > today)
    return bad_id("出生日期不正确", "birth date is not a real past date");
  if (resident_id_check_char(id.substr(0, 17)) != last)
    return bad_id("校验位错误", "check digit is wrong");
  return Status::Ok();
}

std::optional<ResidentIdFacts> resident_id_facts(std::string_view id, Date today) {
  if (!validate_resident_id(id, today).ok()) return std::nullopt;
  const std::string birth = std::string(id.substr(6, 4)) + "-" + std::string(id.substr(10, 2)) +
                            "-" + std::string(id.substr(12, 2));
  ResidentIdFacts facts;
  facts.born = *parse_date(birth);  // validate_resident_id checked it is a real date
  facts.male = (id[16] - '0') % 2 == 1;
  facts.region_code = std::string(id.substr(0, 6));
  return facts;
}

int age_on(Date born, Date day) {
  if (day < born) return 0;
  int by, bm, bd, y, m, d;
  ymd_from_date(born, by, bm, bd);
  ymd_from_date(day, y, m, d);
  const bool birthday_passed = m > bm || (m == bm && d >= bd);
  return y - by - (birthday_passed ? 0 : 1);
}

char resident_id_check_char(std::string_view first17) {
  // ISO 7064 MOD 11-2.
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                   3, 7, 9,  10, 5, 8, 4, 2};
  // Anything but 17 digits has no check character ('?'): a negative sum once indexed
  // before the table (found by the identity fuzz target).
  if (first17.size() < 17) return '?';
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    if (first17[i] < '0' || first17[i] > '9') return '?';
    sum += (first17[i] - '0') * kWeights[i];
  }
  static constexpr char kCheck[] = "10X98765432";
  return kCheck[sum % 11];
}

Status validate_uscc(std::string_view code) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  static constexpr std::array<int, 17> kWeights = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                                   29, 25, 13, 8,  24, 10, 30, 28};
  auto bad = [](std::string zh, std::string en) {
    return Status::InvalidArgument("invalid_uscc", "统一社会信用代码无效：" + zh,
                                   "invalid unified social credit code: " + en);
  };
  if (code.size() != 18) return bad("应为18位", "must be 18 characters");
  int sum = 0;
  for (size_t i = 0; i < 18; ++i) {
    const size_t v = kAlphabet.find(code[i]);
    if (v == std::string_view::npos)
      return bad("含有不允许的字符", "contains a character outside GB 32100");
    if (i < 17) sum += static_cast<int>(v) * kWeights[i];
  }
  const int check = (31 - sum % 31) % 31;
  if (kAlphabet[check] != code[17]) return bad("校验码错误", "check character is wrong");
  return Status::Ok();
}

Status validate_mobile(std::string_view phone) {
  if (phone.size() != 11 || !all_digits(phone) || phone[0] != '1' || phone[1] < '3')
    return Status::InvalidArgument("invalid_phone", "手机号码无效，应为1开头的11位数字",
                                   "invalid mobile number: 11 digits starting 13-19");
  return Status::Ok();
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

bool is_clean_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
      ++i;
      continue;
    }
    // Multi-byte: lead byte, then continuation bytes; no overlongs, surrogates or > U+10FFFF.
    int n = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else return false;
    if (i + static_cast<size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0x80 && cp < 0xa0))
      return false;
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

Status validate_text(std::string_view text, const char* zh_field, const char* en_field,
                     size_t max_bytes, bool multiline) {
  if (text.size() > max_bytes)
    return Status::InvalidArgument(
        "field_too_long", std::string(zh_field) + "过长（最多" + std::to_string(max_bytes) + "字节）",
        std::string(en_field) + " is longer than " + std::to_string(max_bytes) + " bytes");
  const bool breaks = text.find_first_of("\t\r\n") != std::string_view::npos;
  if (!is_clean_utf8(text) || (!multiline && breaks))
    return Status::InvalidArgument("invalid_characters",
                                   std::string(zh_field) + "含有无效字符（控制字符或非UTF-8编码）",
                                   std::string(en_field) +
                                       " holds control characters or is not valid UTF-8");
  return Status::Ok();
}

Status validate_required_text(std::string_view text, const char* zh_field, const char* en_field,
                              size_t max_bytes, bool multiline) {
  if (text.empty())
    return Status::InvalidArgument("missing_field", std::string("请填写") + zh_field,
                                   std::string(en_field) + " is required");
  return validate_text(text, zh_field, en_field, max_bytes, multiline);
}

std::string format_yuan(int64_t fen) {
  const uint64_t abs = fen < 0 ? 0 - static_cast<uint64_t>(fen) : static_cast<uint64_t>(fen);
  const uint64_t cents = abs % 100;
  return (fen < 0 ? "-" : "") + std::to_string(abs / 100) + (cents < 10 ? ".0" : ".") +
         std::to_string(cents);
}

std::string mask_id(std::string_view id) {
  // Keeps 6 + 4; anything shorter than 11 is masked whole (8 to 10 bytes once underflowed
  // the middle's length and threw: found by the identity fuzz target).
  if (id.size() <= 10) return std::string(id.size(), '*');
  return std::string(id.substr(0, 6)) + std::string(id.size() - 10, '*') +
         std::string(id.substr(id.size() - 4));
}

std::string mask_phone(std::string_view phone) {
  if (phone.size() <= 7) return std::string(phone.size(), '*');
  return std::string(phone.substr(0, 3)) + std::string(phone.size() - 7, '*') +
         std::string(phone.substr(phone.size() - 4));
}

}  // namespace tongban
