#include "tongban/sync/zap.h"

namespace tongban::sync {

ZapReply zap_decide(const std::vector<std::string>& request,
                    const std::map<std::string, std::string>& site_of_curve) {
  ZapReply reply;
  reply.request_id = request.size() > 1 ? request[1] : std::string();
  reply.status_code = "400";
  if (request.size() < 6 || request[0] != "1.0") {
    reply.status_text = "malformed request";
    return reply;
  }
  if (request[5] != "CURVE" || request.size() != 7 || request[6].size() != 32) {
    reply.status_text = "CURVE only";
    return reply;
  }
  const auto it = site_of_curve.find(request[6]);
  if (it == site_of_curve.end()) {
    reply.status_text = "unknown key";
    return reply;
  }
  reply.status_code = "200";
  reply.status_text = "OK";
  reply.user_id = it->second;
  return reply;
}

}  // namespace tongban::sync
