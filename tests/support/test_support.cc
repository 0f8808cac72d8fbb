#include "support/test_support.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace tongban::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tongban-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int run_command(const std::string& shell_command, std::string* output) {
  FILE* p = ::popen(shell_command.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (output) *output = std::move(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const District& sample_district() {
  static const District d = [] {
    auto r = load_district(TONGBAN_SITE_CONFIG_DIR);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return std::move(*r);
  }();
  return d;
}

Timestamp at(int year, int month, int day, int hour) {
  return static_cast<Timestamp>(date_from_ymd(year, month, day).days) * 86400 + (hour - 8) * 3600;
}

}  // namespace tongban::test
