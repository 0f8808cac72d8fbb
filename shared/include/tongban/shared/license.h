// Offline verification of an e-license file (电子证照, measure 9): the JSON file a case's
// license endpoint serves, {payload, signature, signer}, where payload is the exact text the
// issuing site signed with its Ed25519 key (docs/protocol.md, "E-license file"). Anyone
// holding the district's public keys can check it without a network: the public license
// check page and `tongban verify-license` both call this.
//
// Thread safety: pure function.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tongban/shared/crypto.h"
#include "tongban/shared/status.h"

namespace tongban {

struct VerifiedLicense {
  std::string license_no, case_id, issuer, holder, issued_date;
  std::vector<std::pair<std::string, std::string>> items;  // code, name
};

// InvalidArgument (invalid_license) for text that is not a license file; Rejected
// (license_invalid) when the signer is unknown, the signature does not verify with its key,
// or the payload names another issuer. Never throws, whatever the text.
Result<VerifiedLicense> verify_license(std::string_view file_text,
                                       const std::map<std::string, PublicKey>& keys);

}  // namespace tongban
