#pragma once
// How an analysis draws its bootstrap confidence intervals (recorded with every result).
#include <cstdint>

namespace qtalign::analysis {

struct BootstrapSettings {
  int64_t resamples = 10000;
  uint64_t seed = 0;
  double confidence = 0.95;
};

}  // namespace qtalign::analysis
