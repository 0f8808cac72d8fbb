#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <csignal>

#include "tongban/shared/crypto.h"

int main(int argc, char* argv[]) {
  if (!tongban::init_crypto().ok()) return 2;
  // A daemon that answers and closes while a test still writes (a 413 before the whole
  // body) is an outcome to assert on, not a reason for the test process to die.
  std::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
