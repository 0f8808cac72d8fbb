// E-license files as anyone may present them for an offline check.
#include <nlohmann/json.hpp>

#include "fuzz_target.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/license.h"

using namespace tongban;

namespace {
const SigningKey& site_key() { return fuzz_key(); }
const std::map<std::string, PublicKey>& keys() {
  static const std::map<std::string, PublicKey> k = {{"S01", site_key().public_key()}};
  return k;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)verify_license(std::string_view(reinterpret_cast<const char*>(data), size), keys());
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  const nlohmann::json payload = {{"type", "tongban.e-license.v1"},
                                  {"license_no", "DZZZ-S01-20261127-000001"},
                                  {"case_id", "S01-20261127-000001"},
                                  {"items", {{{"code", "RS001"}, {"name", "就业创业证申领"}}}},
                                  {"holder", "张三"},
                                  {"issued_date", "2026-11-27"},
                                  {"issuer_site", "S01"}};
  const std::string text = payload.dump();
  const nlohmann::json file = {
      {"payload", text}, {"signature", to_hex(site_key().sign(text))}, {"signer", "S01"}};
  return {file.dump(), R"({"payload":"{}","signature":"00","signer":5})",
          R"({"payload":"{\"items\":[1,{\"code\":2}]}","signature":"zz","signer":"S01"})"};
}
