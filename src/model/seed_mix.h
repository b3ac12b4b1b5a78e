#pragma once
// Seeds derived from other seeds, for random streams that must not depend on the order work is done in.
#include <cstdint>

namespace qtalign::model {

// splitmix64's step: a well-mixed 64-bit value of `x` (distinct inputs give unrelated outputs).
inline uint64_t mix_seed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace qtalign::model
