#include "eval/prompt_split.h"

#include <gtest/gtest.h>

#include "data/prompt_format.h"
#include "data/task_items.h"
#include "eval/eval_test_support.h"

namespace qtalign::eval {
namespace {

using Ids = std::vector<int64_t>;

TEST(SplitPrompts, SplitsAfterTheSharedPrefixAndFallsBackOtherwise) {
  const PromptSplit split = split_prompts({1, 2, 3}, {{1, 2, 3, 4, 5}, {1, 2, 9, 4}, {1, 2, 3}, {1, 2, 3, 7}});
  EXPECT_EQ(split.prefix, (Ids{1, 2, 3}));
  EXPECT_EQ(split.cached, (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(split.continuations[0], (Ids{4, 5}));
  EXPECT_EQ(split.continuations[1], (Ids{1, 2, 9, 4}));  // diverges inside the prefix: whole prompt
  EXPECT_EQ(split.continuations[2], (Ids{1, 2, 3}));     // nothing would be left after the prefix
  EXPECT_EQ(split.continuations[3], (Ids{7}));
  EXPECT_EQ(split.fallbacks(), 2);
}

TEST(SplitPrompts, AnEmptyPrefixCachesNothingAndCountsNoFallback) {
  const PromptSplit split = split_prompts({}, {{4, 5}, {6}});
  EXPECT_EQ(split.cached, (std::vector<bool>{false, false}));
  EXPECT_EQ(split.continuations[0], (Ids{4, 5}));
  EXPECT_EQ(split.fallbacks(), 0);
}

// On the real prompts, the prefix ids are the start of (nearly) every item's full-prompt encoding.
void expect_prefix_serves_real_prompts(const tokenizer::Tokenizer& tokenizer, bool starts_with_bos) {
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  for (const std::string task_name : {"emotion", "snli", "paws"}) {
    const data::TaskProtocol& task = protocol.task(task_name);
    for (const std::string language : {"en", "zh", "ja", "hi", "th"}) {
      SCOPED_TRACE(task_name + "/" + language);
      const std::vector<int64_t> prefix = cacheable_prefix_ids(tokenizer, data::shared_prompt_prefix(task, language));
      ASSERT_GT(prefix.size(), 20u);
      EXPECT_EQ(prefix.front() == 1, starts_with_bos);  // Mistral's <s> belongs to the prefix
      const std::vector<data::TaskItem> items = data::read_test_set(protocol, task_name, language);
      std::vector<std::vector<int64_t>> prompts;
      for (size_t i = 0; i < 8; ++i)
        prompts.push_back(tokenizer.encode(data::evaluation_prompt(task, language, items[i]), true));
      const PromptSplit split = split_prompts(prefix, prompts);
      EXPECT_EQ(split.fallbacks(), 0);
      for (size_t i = 0; i < prompts.size(); ++i) {
        Ids joined = split.prefix;
        joined.insert(joined.end(), split.continuations[i].begin(), split.continuations[i].end());
        EXPECT_EQ(joined, prompts[i]);
      }
    }
  }
}

TEST(CacheablePrefix, ServesRealQwenPrompts) {
  expect_prefix_serves_real_prompts(tokenizer::Tokenizer::from_file(testing::qwen_tokenizer_file()), false);
}

TEST(CacheablePrefix, ServesRealMistralPromptsWithBos) {
  expect_prefix_serves_real_prompts(tokenizer::Tokenizer::from_file(testing::mistral_tokenizer_file()), true);
}

TEST(CacheablePrefix, KeepsSpecialTokensOfAnEmptyPrefix) {
  const auto mistral = tokenizer::Tokenizer::from_file(testing::mistral_tokenizer_file());
  EXPECT_EQ(cacheable_prefix_ids(mistral, ""), (Ids{1}));
  const auto qwen = tokenizer::Tokenizer::from_file(testing::qwen_tokenizer_file());
  EXPECT_TRUE(cacheable_prefix_ids(qwen, "").empty());
}

}  // namespace
}  // namespace qtalign::eval
