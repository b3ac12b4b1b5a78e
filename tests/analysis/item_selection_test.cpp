#include "analysis/item_selection.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::analysis {
namespace {

TEST(ItemSelection, SelectsRequestedItemsThenLimits) {
  EXPECT_EQ(select_items(4, {}, 0, "t"), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(select_items(4, {}, 2, "t"), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(select_items(10, {7, 2, 5}, 2, "t"), (std::vector<size_t>{7, 2}));
  EXPECT_THROW(select_items(4, {4}, 0, "t"), Error);
  EXPECT_THROW(select_items(4, {1, 1}, 0, "t"), Error);
  EXPECT_THROW(select_items(0, {}, 0, "t"), Error);
}

}  // namespace
}  // namespace qtalign::analysis
