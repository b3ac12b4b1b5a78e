#include "data/demonstrations.h"

#include <gtest/gtest.h>

namespace qtalign::data {
namespace {

TEST(AnswerLineEnds, FindsTheLinesEndingInAQuotedLabel) {
  const std::string block = "Q: a\nAnswer: \"yes\"\nQ: \"no\" is not at the end here\nAnswer: \"no\"  \nAnswer: \"maybe\"";
  // Offsets counted by hand: "Q: a\n" is 5 bytes, "Answer: \"yes\"" ends at 5 + 13; then a newline,
  // the 30-byte question line, a newline and the 14-byte answer line with its trailing blanks.
  const std::vector<size_t> expected = {18, 18 + 1 + 30 + 1 + 14};
  EXPECT_EQ(answer_line_ends(block, {"yes", "no"}), expected);
  EXPECT_TRUE(answer_line_ends("", {"yes"}).empty());
  EXPECT_EQ(answer_line_ends(block, {"yes", "no", "maybe"}).size(), 3u);
}

}  // namespace
}  // namespace qtalign::data
