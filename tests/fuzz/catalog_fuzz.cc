// catalog.toml text as an operator publishes it at the hub (and every node then loads).
#include <fstream>
#include <sstream>

#include "fuzz_target.h"
#include "tongban/shared/config.h"

using namespace tongban;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)parse_catalog(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  std::ifstream in(std::string(TONGBAN_SITE_CONFIG_DIR) + "/catalog.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  return {ss.str(), "version = 2\n[[item]]\ncode = \"X1\"\nname = \"测试\"\n", "version = ["};
}
