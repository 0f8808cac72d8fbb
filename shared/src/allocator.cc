#include "tongban/shared/allocator.h"

#include <mimalloc.h>

#include <cstdlib>

namespace tongban {

void tune_allocator() {
  if (!std::getenv("MIMALLOC_DECOMMIT_DELAY")) mi_option_set(mi_option_decommit_delay, 1000);
}

}  // namespace tongban
