// tongban: the command line for provisioning, verification, scripting the node API and
// benchmarks. Help is in Chinese with English beside it: staff read it.
#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "tongban/shared/allocator.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/log.h"

namespace tongban::cli {
int& exit_code() {
  static int code = 0;
  return code;
}
int failed(const Status& s) {
  std::cerr << "tongban: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}
}  // namespace tongban::cli

int main(int argc, char** argv) {
  tongban::tune_allocator();
  tongban::private_files_only();
  CLI::App app{"tongban — 通办 政务服务站点命令行 / government service sites command line"};
  app.require_subcommand(1);
  app.add_option_function<std::string>(
      "--ca", [](const std::string& file) { setenv("TONGBAN_CA", file.c_str(), 1); },
      "HTTPS 时信任的区级 CA 证书（site-config/district-ca.pem；或 TONGBAN_CA）/ the district CA "
      "to trust over HTTPS");
  (void)tongban::init_logging("tongban", "warn");
  if (!tongban::init_crypto().ok()) return 2;
  tongban::cli::add_provision(app);
  tongban::cli::add_verify(app);
  tongban::cli::add_client(app);
  tongban::cli::add_bench(app);
  tongban::cli::add_bundle(app);
  tongban::cli::add_backup(app);
  tongban::cli::add_cert(app);
  CLI11_PARSE(app, argc, argv);
  return tongban::cli::exit_code();
}
