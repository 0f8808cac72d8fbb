// Helpers shared by tests: temporary directories, the sample district, fixed clocks.
#pragma once

#include <filesystem>
#include <string>

#include "tongban/shared/calendar.h"
#include "tongban/shared/config.h"

namespace tongban::test {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The sample district in site-config/ (loaded once).
const District& sample_district();

// Runs `shell_command` (sh -c); returns its exit code (-1: it did not exit), its standard
// output (and whatever the command redirects there) into *output.
int run_command(const std::string& shell_command, std::string* output = nullptr);

// Unix time of 10:00 CST on the given civil date.
Timestamp at(int year, int month, int day, int hour = 10);

}  // namespace tongban::test
