// Request targets (path and query string) as the HTTP server splits and decodes them, then
// read as case-search filters.
#include "fuzz_target.h"
#include "tongban/shared/http_server.h"

using namespace tongban;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string target(reinterpret_cast<const char*>(data), size);
  http::Request req = http::parse_target(target);
  static const Keyring keys = Keyring::generate("S01", SecretKey{}, 0);
  (void)case_query_from(req, &keys);
  (void)bearer_token(req);
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {"/api/v1/cases?q=S01-2026&status=accepted&clock=red&limit=20&offset=40",
          "/api/v1/cases?id_number=11010519491231002X&item_code=RS001&site=S01",
          "/api/v1/cases/S01-20261127-000001/events",
          "/api/v1/cases?q=%E5%BC%A0%20%2B+x&limit=abc&offset=-1&&=&a",
          "/%zz%0?%%%="};
}
