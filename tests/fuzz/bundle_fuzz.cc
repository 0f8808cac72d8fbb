// Offline bundles as the hub imports them: opened with the hub key, parsed, and the batch
// inside checked; the bytes are also parsed as an already opened bundle, to reach past
// the seal.
#include "fuzz_target.h"
#include "tongban/shared/crypto.h"
#include "tongban/sync/batch.h"

using namespace tongban;

namespace {
const SigningKey& hub_key() { return fuzz_key(); }

void check(const std::string& opened) {
  pb::Bundle bundle;
  if (!bundle.ParseFromString(opened)) return;
  const sync::HeldHash held_hash = [](uint64_t) -> Result<Hash32> {
    return Status::NotFound("x", "x", "not held");
  };
  (void)sync::check_batch(bundle.batch(), sync::ChainHead{}, hub_key().public_key(), held_hash);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (auto opened = unseal(bytes, hub_key().curve_keypair()); opened.ok()) check(*opened);
  check(bytes);
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  sync::Event e;
  e.origin = "A02";
  e.seq = 1;
  e.lamport = 1;
  e.case_id = "A02-20261127-000001";
  e.kind = "case.submitted";
  e.actor = "clerk";
  e.body = "\x0a\x05MZ001";
  e.hash = sync::compute_event_hash(e);
  pb::Bundle bundle;
  *bundle.mutable_batch() = sync::make_batch({e}, hub_key());
  bundle.set_created_ts(1796000000);
  const std::string plain = bundle.SerializeAsString();
  return {plain, seal(plain, hub_key().curve_keypair().public_key)};
}
