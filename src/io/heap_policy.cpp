#include "io/heap_policy.h"

#include <malloc.h>

namespace qtalign::io {

// Logits over a 150k-token vocabulary are hundreds of MB per batch, and a training pass's activations
// tens of MB each. glibc serves blocks above its mmap threshold (at most 32 MB) with fresh mappings,
// so every such tensor would page-fault its memory in again (training on the demo model spent most of
// its time there); on the heap, freed memory is reused instead of returned to the kernel every step.
void keep_large_blocks_on_heap() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace qtalign::io
