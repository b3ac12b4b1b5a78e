// The summary of a training log: what training_summary.json records, read off the log's records.
#include "train/training_log.h"

#include <gtest/gtest.h>

namespace qtalign::train {
namespace {

TEST(TrainingSummary, IsTheFirstAndLastLossAndTheFirstLowestValidationLoss) {
  const std::vector<io::Json> records = {
      {{"step", 1}, {"loss", 3.5}},
      {{"step", 2}, {"loss", 3.0}, {"val_loss", 2.75}},
      {{"step", 3}, {"loss", 2.5}},
      {{"step", 4}, {"loss", 2.25}, {"val_loss", 2.5}},
      {{"step", 5}, {"loss", 2.0}, {"val_loss", 2.5}},  // as low as step 4's: step 4 stays the best
      {{"step", 6}, {"loss", 1.75}, {"val_loss", 2.625}},
  };
  const TrainingSummary summary = summarize(records);
  EXPECT_EQ(summary.steps, 6);
  EXPECT_EQ(summary.first_loss, 3.5);
  EXPECT_EQ(summary.last_loss, 1.75);
  ASSERT_TRUE(summary.best_validation_loss.has_value());
  EXPECT_EQ(*summary.best_validation_loss, 2.5);
  EXPECT_EQ(summary.best_step, 4);
  EXPECT_EQ(to_json(summary),
            (io::Json{{"steps", 6}, {"first_loss", 3.5}, {"last_loss", 1.75}, {"best_val_loss", 2.5}, {"best_step", 4}}));
}

TEST(TrainingSummary, WithoutValidationHasNoBest) {
  const TrainingSummary summary = summarize({{{"step", 1}, {"loss", 0.5}}, {{"step", 2}, {"loss", 0.25}}});
  EXPECT_FALSE(summary.best_validation_loss.has_value());
  EXPECT_EQ(to_json(summary), (io::Json{{"steps", 2}, {"first_loss", 0.5}, {"last_loss", 0.25}}));
  EXPECT_EQ(to_json(summarize({})), (io::Json{{"steps", 0}, {"first_loss", 0.0}, {"last_loss", 0.0}}));
}

}  // namespace
}  // namespace qtalign::train
