// Replays a fuzz target's seeds and every file under the given directories or files,
// once each: a crash or sanitizer report fails the ctest that runs it.
//   fuzz_<target> [--write-seeds DIR] [PATH…]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz_target.h"

namespace {
void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}
}  // namespace

int main(int argc, char** argv) {
  size_t replayed = 0;
  int first = 1;
  if (argc >= 3 && std::string(argv[1]) == "--write-seeds") {
    const std::filesystem::path dir = argv[2];
    std::filesystem::create_directories(dir);
    int n = 0;
    for (const std::string& seed : fuzz_seeds())
      std::ofstream(dir / ("seed-" + std::to_string(n++)), std::ios::binary) << seed;
    std::printf("%d seeds written to %s\n", n, dir.c_str());
    return 0;
  }
  for (const std::string& seed : fuzz_seeds()) run(seed), ++replayed;
  for (int i = first; i < argc; ++i) {
    const std::filesystem::path path = argv[i];
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(path))
        if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
    } else if (std::filesystem::exists(path)) {
      files.push_back(path);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      run(ss.str());
      ++replayed;
    }
  }
  std::printf("%zu inputs replayed without a crash\n", replayed);
  return 0;
}
