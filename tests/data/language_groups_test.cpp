#include "data/language_groups.h"

#include <gtest/gtest.h>

#include <set>

#include "data/protocol.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

// SPEC section 6: the study's two blocks, written out here by hand.
TEST(LanguageGroups, AreTheStudysTwoBlocksCoveringEveryLanguageOnce) {
  const std::vector<LanguageGroup>& groups = study_language_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "high-resource");
  EXPECT_EQ(groups[0].languages, (std::vector<std::string>{"en", "zh", "de", "fr", "es", "it", "nl", "ja", "ru", "sv"}));
  EXPECT_EQ(groups[1].name, "low-resource");
  EXPECT_EQ(groups[1].languages, (std::vector<std::string>{"sl", "pl", "bg", "no", "ms", "is", "hi", "th", "sw", "bn"}));
  // Together they are prompts.json's languages, in its order.
  std::vector<std::string> both = groups[0].languages;
  both.insert(both.end(), groups[1].languages.begin(), groups[1].languages.end());
  EXPECT_EQ(both, load_protocol(testing::shared_data_dir()).languages);

  EXPECT_EQ(language_group_of("ja"), "high-resource");
  EXPECT_EQ(language_group_of("th"), "low-resource");
  EXPECT_TRUE(is_high_resource("sv"));
  EXPECT_FALSE(is_high_resource("sl"));
  EXPECT_THROW(language_group_of("xx"), Error);
}

}  // namespace
}  // namespace qtalign::data
