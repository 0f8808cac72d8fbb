// The ZAP decision (ZeroMQ RFC 27) of the hub's sync server, apart from its socket so it can
// be tested and fuzzed: a request is [version, request id, domain, address, identity,
// mechanism, credentials...]; only CURVE with a 32-byte client key found in the allow-list
// is admitted, as the site that key belongs to. Pure function; safe from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tongban::sync {

struct ZapReply {
  std::string request_id;
  std::string status_code;  // "200" admitted, "400" refused
  std::string status_text;
  std::string user_id;  // the site id when admitted
};

// `site_of_curve`: CURVE public key bytes -> site id.
ZapReply zap_decide(const std::vector<std::string>& request,
                    const std::map<std::string, std::string>& site_of_curve);

}  // namespace tongban::sync
