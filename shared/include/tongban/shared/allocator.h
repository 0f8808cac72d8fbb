// The allocator of the daemons and the CLI: mimalloc (linked by tongban_allocator), tuned.
#pragma once

namespace tongban {

// Called first thing in main(). Keeps freed memory for a second before giving it back to
// the kernel (mimalloc's default is 25 ms): a node applying a hub delivery frees and takes
// again its batch buffers every few tens of milliseconds, and each give-back cost a
// madvise that flushes the TLB of both cores plus the page faults to take the pages again.
// On a paravirtualised VM that churn was about a quarter of the CPU of a directive run
// (tools/bench/bench_sync.cc). MIMALLOC_DECOMMIT_DELAY in the environment, when set, wins.
void tune_allocator();

}  // namespace tongban
