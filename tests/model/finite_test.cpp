#include "model/finite.h"

#include <gtest/gtest.h>

#include <limits>

#include "support/test_support.h"

namespace qtalign::model {
namespace {

TEST(RequireFinite, NamesWhatAndCountsTheBadValues) {
  require_finite(at::tensor({1.0f, -2.0f, 3e38f}), "fine");
  const at::Tensor values = at::tensor({1.0f, std::numeric_limits<float>::quiet_NaN(),
                                        std::numeric_limits<float>::infinity(), 0.0f});
  EXPECT_EQ(testing::error_of([&] { require_finite(values, "layer 3 logits"); }),
            "layer 3 logits: 2 of 4 values are NaN or infinite (the weights hold them, or the computation "
            "overflowed)");
  EXPECT_NE(testing::error_of([&] { require_finite(values.to(at::kBFloat16), "bf16"); }).find(": 2 of 4 values"),
            std::string::npos);
}

}  // namespace
}  // namespace qtalign::model
