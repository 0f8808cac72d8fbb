// One fuzz target: a decoder a stranger can reach, fed arbitrary bytes. Built two ways:
// with clang-14 and libFuzzer (tools/fuzz.sh, under ASan+UBSan), and in the normal build
// with replay_main.cc, which ctest runs over the target's corpus in tests/fuzz/<target>/ so
// that every input a fuzzer kept — and every crash found and fixed — is replayed on every
// test run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tongban/shared/crypto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Well-formed inputs made in code (so they follow the current schemas): replayed first,
// and written into the corpus by `fuzz_<target> --write-seeds DIR` before fuzzing.
std::vector<std::string> fuzz_seeds();

// One Ed25519 key per process, made on first use: a site's key for targets that check
// signatures, the hub's for those that open sealed boxes.
inline const tongban::SigningKey& fuzz_key() {
  static const tongban::SigningKey key = [] {
    (void)tongban::init_crypto();
    return tongban::SigningKey::generate();
  }();
  return key;
}
