// Subcommands of the `tongban` command line. Each registers itself on the CLI11 app and
// returns the process exit code through the callback it installs.
//
// Thread safety: single-threaded CLI code.
#pragma once

#include <CLI/CLI.hpp>

namespace tongban::cli {

// Every subcommand stores its exit code here when it runs.
int& exit_code();

void add_provision(CLI::App& app);
void add_verify(CLI::App& app);  // verify-log, verify-license, rebuild
void add_client(CLI::App& app);  // login, api, case, staff
void add_bench(CLI::App& app);   // bench node, bench sync
void add_bench_sync(CLI::App& bench);
void add_bench_hub(CLI::App& bench);
void add_bundle(CLI::App& app);  // export-bundle

}  // namespace tongban::cli
