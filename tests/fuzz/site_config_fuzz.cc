// district.toml as load_district reads it (with the sample catalog and calendar beside it).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz_target.h"
#include "tongban/shared/config.h"

using namespace tongban;

namespace {
const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() /
                   ("tongban-fuzz-site-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    for (const char* f : {"catalog.toml", "calendar.toml"})
      std::filesystem::copy_file(std::filesystem::path(TONGBAN_SITE_CONFIG_DIR) / f, d / f,
                                 std::filesystem::copy_options::overwrite_existing);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(scratch() / "district.toml", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  (void)load_district(scratch());
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  std::ifstream in(std::string(TONGBAN_SITE_CONFIG_DIR) + "/district.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  return {ss.str(), "[hub]\nid = \"HUB\"\n[[site]]\nid = \"S01\"\n"};
}
