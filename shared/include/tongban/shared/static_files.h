// The web console (工作台): the built files of web/, read once at start into memory and
// served under /console/ by node and hub alike. Nothing is read from disk per request, so
// no request path can reach a file outside the build output: a path is a key of the map
// or it is 404. Each file is kept as is and, when the build wrote `<name>.gz` beside it,
// gzip-compressed too (sent to clients that accept gzip). Files under assets/ carry a
// content hash in their names and may be cached for a year; every other file (index.html)
// is revalidated on each load, so a new build reaches browsers at once.
//
// Thread safety: immutable after load(); serve() may run on any number of threads.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>

#include "tongban/shared/http_server.h"
#include "tongban/shared/status.h"

namespace tongban::http {

class StaticFiles {
 public:
  static constexpr size_t kMaxTotalBytes = 64 * 1024 * 1024;

  // Reads every regular file under `dir` (symbolic links are not followed); NotFound when
  // `dir` has no index.html.
  static Result<std::shared_ptr<const StaticFiles>> load(const std::filesystem::path& dir);

  // `rel` is the path below the mount point ("" and "/" name index.html).
  void serve(std::string_view rel, const Request& req, Response& res) const;
  size_t file_count() const { return files_.size(); }

 private:
  struct File {
    std::string type;
    std::string plain;
    std::string gzip;  // empty when the build wrote no .gz
    bool immutable = false;
  };
  std::unordered_map<std::string, File> files_;
};

// The console folder of this build (the CMake build tree's web/console).
std::filesystem::path default_console_dir();
// The console for a daemon from `dir`: logs how many files it serves, or warns why it
// serves none (null) — a daemon runs without its console rather than not at all.
std::shared_ptr<const StaticFiles> load_console(const std::filesystem::path& dir);

// Serves the console under /console/ and redirects / and /console there. With no files
// (a build without web/), /console/ answers 404 `console_not_built` in Chinese and English.
void mount_console(Server& server, std::shared_ptr<const StaticFiles> files);

}  // namespace tongban::http
