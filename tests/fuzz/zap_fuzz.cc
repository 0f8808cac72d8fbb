// ZAP requests (RFC 27) as libzmq hands them to the hub after a CURVE handshake. The input
// is split into frames, each one length byte and that many bytes.
#include "fuzz_target.h"
#include "tongban/sync/zap.h"

using namespace tongban::sync;

namespace {
const std::string kKnownKey(32, 'k');
const std::map<std::string, std::string>& allowed() {
  static const std::map<std::string, std::string> m = {{kKnownKey, "S01"}};
  return m;
}
std::string frame(const std::string& bytes) {
  return std::string(1, static_cast<char>(bytes.size())) + bytes;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> frames;
  size_t at = 0;
  while (at < size && frames.size() < 16) {
    const size_t len = data[at++];
    const size_t take = std::min(len, size - at);
    frames.emplace_back(reinterpret_cast<const char*>(data + at), take);
    at += take;
  }
  const ZapReply r = zap_decide(frames, allowed());
  // Admission means exactly a well-formed CURVE request with the allowed key.
  if (r.status_code == "200" &&
      (frames.size() != 7 || frames[0] != "1.0" || frames[5] != "CURVE" || frames[6] != kKnownKey ||
       r.user_id != "S01"))
    __builtin_trap();
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  const auto request = [](const std::string& key) {
    return frame("1.0") + frame("1") + frame("") + frame("127.0.0.1") + frame("") +
           frame("CURVE") + frame(key);
  };
  return {request(kKnownKey), request(std::string(32, 'x')), request("short"),
          frame("1.0") + frame("7") + frame("") + frame("::1") + frame("") + frame("NULL")};
}
