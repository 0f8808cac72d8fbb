#include "tongban/shared/license.h"

#include <nlohmann/json.hpp>

namespace tongban {

namespace {

using nlohmann::json;

// A string member, or "" when absent or of another type.
std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Status not_a_license() {
  return Status::InvalidArgument("invalid_license", "证照文件格式错误", "not a license file");
}

Status invalid() {
  return Status::Rejected("license_invalid", "证照无效：签名与签发站点公钥不符或内容被改动",
                          "the signature does not verify with the issuer's public key, or the "
                          "content was altered");
}

}  // namespace

Result<VerifiedLicense> verify_license(std::string_view file_text,
                                       const std::map<std::string, PublicKey>& keys) {
  const json j = json::parse(file_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return not_a_license();
  const std::string payload = text(j, "payload"), signer = text(j, "signer"),
                    signature = text(j, "signature");
  if (payload.empty() || signer.empty() || signature.empty()) return not_a_license();
  auto key = keys.find(signer);
  Signature sig{};
  if (key == keys.end() || !from_hex(signature, sig) || !verify_signature(key->second, payload, sig))
    return invalid();
  const json p = json::parse(payload, nullptr, false);
  if (p.is_discarded() || !p.is_object() || text(p, "issuer_site") != signer) return invalid();
  VerifiedLicense v{text(p, "license_no"), text(p, "case_id"), signer, text(p, "holder"),
                    text(p, "issued_date"), {}};
  if (auto items = p.find("items"); items != p.end() && items->is_array())
    for (const json& item : *items)
      if (item.is_object()) v.items.emplace_back(text(item, "code"), text(item, "name"));
  return v;
}

}  // namespace tongban
