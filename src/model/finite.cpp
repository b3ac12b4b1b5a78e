#include "model/finite.h"

#include "io/error.h"

namespace qtalign::model {

void require_finite(const at::Tensor& values, const std::string& what) {
  if (at::isfinite(values).all().item<bool>()) return;
  const int64_t bad = values.numel() - at::isfinite(values).sum().item<int64_t>();
  throw Error(what + ": " + std::to_string(bad) + " of " + std::to_string(values.numel()) +
              " values are NaN or infinite (the weights hold them, or the computation overflowed)");
}

}  // namespace qtalign::model
