#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tongban/shared/crypto.h"

int main(int argc, char* argv[]) {
  if (!tongban::init_crypto().ok()) return 2;
  return Catch::Session().run(argc, argv);
}
