#include "model/prompt_batches.h"

#include <gtest/gtest.h>

#include <set>

#include "io/error.h"

namespace qtalign::model {
namespace {

TEST(PromptBatches, PadsOnTheRightAndCoversEveryPromptOnce) {
  const std::vector<std::vector<int64_t>> prompts = {{5, 6, 7}, {1}, {2, 3}, {9, 9, 9, 9}, {4}};
  const auto batches = make_prompt_batches(prompts, 2);
  ASSERT_EQ(batches.size(), 3u);
  std::set<size_t> seen;
  for (const PromptBatch& batch : batches) {
    for (size_t row = 0; row < batch.prompt_indices.size(); ++row) {
      const auto& prompt = prompts[batch.prompt_indices[row]];
      EXPECT_TRUE(seen.insert(batch.prompt_indices[row]).second);
      EXPECT_EQ(batch.attention_mask[row].sum().item<int64_t>(), static_cast<int64_t>(prompt.size()));
      for (size_t column = 0; column < prompt.size(); ++column)
        EXPECT_EQ(batch.input_ids[row][column].item<int64_t>(), prompt[column]);
      EXPECT_EQ(last_real_positions(batch.attention_mask)[row].item<int64_t>(),
                static_cast<int64_t>(prompt.size()) - 1);
    }
  }
  EXPECT_EQ(seen.size(), prompts.size());
  EXPECT_THROW(make_prompt_batches({{1}, {}}, 2), Error);
  EXPECT_THROW(make_prompt_batches({{1}}, 0), Error);
}

TEST(PromptBatches, FindsTheLastRealTokenWithLeftPadding) {
  const at::Tensor mask = at::tensor(std::vector<int64_t>{0, 0, 1, 1, 1, 1, 1, 0}, at::kLong).view({2, 4});
  const at::Tensor last = last_real_positions(mask);
  EXPECT_EQ(last[0].item<int64_t>(), 3);
  EXPECT_EQ(last[1].item<int64_t>(), 2);
}

}  // namespace
}  // namespace qtalign::model
