#pragma once
// How the process's allocator treats the large tensors of model work.

namespace qtalign::io {

// Keeps large blocks on the heap and freed memory in the process (glibc's mmap and trim thresholds
// raised to 1 GiB). Call once at program start, before any large allocation.
void keep_large_blocks_on_heap();

}  // namespace qtalign::io
