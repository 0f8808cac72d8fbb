// Subcommands of the `tongban` command line. Each registers itself on the CLI11 app and
// returns the process exit code through the callback it installs.
//
// Thread safety: single-threaded CLI code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "tongban/shared/status.h"

namespace tongban::cli {

// Every subcommand stores its exit code here when it runs.
int& exit_code();
// Prints "tongban: <zh> / <en>" to stderr; returns 1, the exit code of a refused command.
int failed(const Status& s);

void add_provision(CLI::App& app);
void add_verify(CLI::App& app);  // verify-log, verify-license, rebuild
void add_client(CLI::App& app);  // login, api, case, staff
void add_bench(CLI::App& app);   // bench node, bench sync
void add_bench_sync(CLI::App& bench);
void add_bench_hub(CLI::App& bench);
void add_bundle(CLI::App& app);  // export-bundle
void add_backup(CLI::App& app);  // backup, restore-backup
void add_cert(CLI::App& app);    // cert init-ca, cert issue
// Creates the district CA (key in `ca_key_file`, certificate site-config/district-ca.pem)
// unless both exist already (cert.cc).
Status init_ca(const std::string& config_dir, const std::string& ca_key_file);

}  // namespace tongban::cli
