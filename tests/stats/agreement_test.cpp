#include "stats/agreement.h"

#include <gtest/gtest.h>

namespace qtalign::stats {
namespace {

TEST(Agreement, CountsEqualPredictionsOnTheSameItems) {
  const std::map<int64_t, std::string> english = {{0, "positive"}, {1, "negative"}, {2, "positive"}, {3, "negative"}};
  // Item 5 has no English counterpart and is left out; 0 and 3 agree, 1 and 2 do not.
  const std::map<int64_t, std::string> german = {
      {0, "positive"}, {1, "positive"}, {2, "negative"}, {3, "negative"}, {5, "positive"}};
  const Agreement agreement = prediction_agreement(german, english);
  EXPECT_EQ(agreement.compared, 4);
  EXPECT_EQ(agreement.agreeing, 2);
  ASSERT_TRUE(agreement.share());
  EXPECT_DOUBLE_EQ(*agreement.share(), 0.5);
  EXPECT_DOUBLE_EQ(*prediction_agreement(english, english).share(), 1.0);
  EXPECT_FALSE(prediction_agreement({{7, "x"}}, english).share());
}

}  // namespace
}  // namespace qtalign::stats
