#include "tongban/shared/static_files.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "tongban/shared/http_errors.h"

namespace tongban::http {

namespace {

namespace fs = std::filesystem;

std::string content_type_of(const fs::path& p) {
  static const std::unordered_map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
  };
  auto it = kTypes.find(p.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

Result<std::string> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The console's pages only load what the daemon itself serves (no CDN: nodes work
// offline) and may not be framed by another site.
constexpr const char* kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

bool accepts_gzip(const Request& req) {
  return req.get_header_value("accept-encoding").find("gzip") != std::string::npos;
}

}  // namespace

Result<std::shared_ptr<const StaticFiles>> StaticFiles::load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "index.html", ec))
    return Status::NotFound("console_not_built", "工作台页面未构建：" + dir.string(),
                            "console not built: no index.html in " + dir.string());
  auto files = std::make_shared<StaticFiles>();
  size_t total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const fs::path& p = it->path();
    if (p.extension() == ".gz") continue;  // read beside the file it compresses
    auto body = read_all(p);
    if (!body.ok()) return body.status();
    File f;
    f.type = content_type_of(p);
    f.plain = std::move(*body);
    fs::path gz = p;
    gz += ".gz";
    if (fs::is_regular_file(gz, ec)) {
      auto packed = read_all(gz);
      if (!packed.ok()) return packed.status();
      f.gzip = std::move(*packed);
    }
    total += f.plain.size() + f.gzip.size();
    if (total > kMaxTotalBytes)
      return Status::InvalidArgument("console_too_large", "工作台文件过大",
                                     "console files exceed 64 MiB");
    const std::string rel = fs::relative(p, dir, ec).generic_string();
    f.immutable = rel.rfind("assets/", 0) == 0;
    files->files_.emplace(rel, std::move(f));
  }
  if (ec) return Status::Unavailable("cannot list " + dir.string() + ": " + ec.message());
  return std::shared_ptr<const StaticFiles>(std::move(files));
}

void StaticFiles::serve(std::string_view rel, const Request& req, Response& res) const {
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  auto it = files_.find(rel.empty() ? std::string("index.html") : std::string(rel));
  if (it == files_.end()) {
    res.status = 404;
    res.body = error_json(Status::NotFound("not_found", "没有该页面文件", "no such console file"))
                   .dump();
    return;
  }
  const File& f = it->second;
  res.status = 200;
  res.content_type = f.type;
  res.cache_control = f.immutable ? "public, max-age=31536000, immutable" : "no-cache";
  res.headers.emplace_back("Vary", "Accept-Encoding");
  if (f.type.rfind("text/html", 0) == 0) {
    res.headers.emplace_back("Content-Security-Policy", kPagePolicy);
    res.headers.emplace_back("X-Frame-Options", "DENY");
  }
  if (!f.gzip.empty() && accepts_gzip(req)) {
    res.headers.emplace_back("Content-Encoding", "gzip");
    res.body = f.gzip;
  } else {
    res.body = f.plain;
  }
}

std::filesystem::path default_console_dir() { return TONGBAN_CONSOLE_DEFAULT; }

std::shared_ptr<const StaticFiles> load_console(const std::filesystem::path& dir) {
  auto files = StaticFiles::load(dir);
  if (!files.ok()) {
    spdlog::warn("web console not served: {}", files.status().message_en());
    return nullptr;
  }
  spdlog::info("web console: {} files from {}", (*files)->file_count(), dir.string());
  return *files;
}

void mount_console(Server& server, std::shared_ptr<const StaticFiles> files) {
  const auto redirect = [](const Request&, Response& res) {
    res.status = 302;
    res.content_type = "text/plain; charset=utf-8";
    res.headers.emplace_back("Location", "/console/");
    res.body = "/console/";
  };
  server.Get("/", redirect, RouteOptions{.open = true});
  server.Get("/console", redirect, RouteOptions{.open = true});
  server.Get("/console/(.*)", [files](const Request& req, Response& res) {
    if (!files) {
      res.status = 404;
      res.body = error_json(Status::NotFound("console_not_built",
                                             "工作台页面未随本程序构建（需 nodejs/npm）",
                                             "the console was not built with this program"))
                     .dump();
      return;
    }
    files->serve(req.matches[1], req, res);
  }, RouteOptions{.open = true});
}

}  // namespace tongban::http
