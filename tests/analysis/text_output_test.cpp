#include "analysis/text_output.h"

#include <gtest/gtest.h>

#include "eval/eval_test_support.h"

namespace qtalign::analysis {
namespace {

TEST(TokenText, SpellsOutControlCharactersAndKeepsOtherText) {
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(testing::qwen_tokenizer_file());
  const auto single_token = [&](const std::string& text) {
    const std::vector<int64_t> ids = tokenizer.encode(text);
    EXPECT_EQ(ids.size(), 1u) << text;
    return ids.at(0);
  };
  EXPECT_EQ(token_text(tokenizer, single_token("\n")), "\\n");
  EXPECT_EQ(token_text(tokenizer, single_token("\r\n")), "\\r\\n");
  EXPECT_EQ(token_text(tokenizer, single_token("\t")), "\\t");
  EXPECT_EQ(token_text(tokenizer, single_token(" Hello")), " Hello");
  EXPECT_EQ(token_text(tokenizer, single_token("中国")), "中国");
  EXPECT_EQ(token_text(tokenizer, tokenizer.vocab_size() + 3), "<id " + std::to_string(tokenizer.vocab_size() + 3) + ">");
}

}  // namespace
}  // namespace qtalign::analysis
