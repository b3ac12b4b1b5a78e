#include "train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qtalign::train {
namespace {

// Values of Hugging Face's get_cosine_schedule_with_warmup(warmup=2, total=10), computed by hand.
TEST(LrSchedule, WarmsUpLinearlyThenDecaysAlongACosine) {
  const double peak = 1e-3;
  EXPECT_DOUBLE_EQ(cosine_with_warmup_lr(peak, 0, 2, 10), 0.0);
  EXPECT_DOUBLE_EQ(cosine_with_warmup_lr(peak, 1, 2, 10), 5e-4);
  EXPECT_DOUBLE_EQ(cosine_with_warmup_lr(peak, 2, 2, 10), 1e-3);
  EXPECT_NEAR(cosine_with_warmup_lr(peak, 4, 2, 10), 1e-3 * 0.5 * (1 + std::sqrt(0.5)), 1e-15);  // progress 1/4
  EXPECT_NEAR(cosine_with_warmup_lr(peak, 6, 2, 10), 5e-4, 1e-15);                               // progress 1/2
  EXPECT_NEAR(cosine_with_warmup_lr(peak, 9, 2, 10), 1e-3 * 0.5 * (1 - 0.9238795325112867), 1e-15);
  EXPECT_DOUBLE_EQ(cosine_with_warmup_lr(peak, 10, 2, 10), 0.0);
}

TEST(LrSchedule, WithoutWarmupStartsAtThePeak) {
  EXPECT_DOUBLE_EQ(cosine_with_warmup_lr(2e-5, 0, 0, 4), 2e-5);
  EXPECT_NEAR(cosine_with_warmup_lr(2e-5, 2, 0, 4), 1e-5, 1e-20);
}

TEST(LrSchedule, RoundsWarmupStepsUp) {
  EXPECT_EQ(warmup_steps_for_ratio(0.1, 95), 10);
  EXPECT_EQ(warmup_steps_for_ratio(0.1, 100), 10);
  EXPECT_EQ(warmup_steps_for_ratio(0.0, 100), 0);
  EXPECT_EQ(warmup_steps_for_ratio(0.1, 3), 1);
}

}  // namespace
}  // namespace qtalign::train
