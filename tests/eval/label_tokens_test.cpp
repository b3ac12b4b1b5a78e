// Candidate ids were read off the tokenizer.json vocabularies by hand (prefix entries, "▁" entries,
// "<0xXX>" entries) and, for Qwen's first-token rule, from the reference tokenizer (transformers.js,
// tools/npm) encoding each prefix on its own.
#include "eval/label_tokens.h"

#include <gtest/gtest.h>

#include "eval/eval_test_support.h"
#include "io/error.h"

namespace qtalign::eval {
namespace {

using Ids = std::vector<int64_t>;

const tokenizer::Tokenizer& qwen() {
  static const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(testing::qwen_tokenizer_file());
  return tokenizer;
}

const tokenizer::Tokenizer& mistral() {
  static const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(testing::mistral_tokenizer_file());
  return tokenizer;
}

TEST(PrefixSumCandidates, QwenLabelsOfEveryTask) {
  // positive: p 79, po 5368, pos 966, posit 2724, positive 30487 (posi/positi/positiv encode to pos/posit).
  EXPECT_EQ(prefix_sum_candidates(qwen(), "positive"), (Ids{79, 966, 2724, 5368, 30487}));
  // negative: n 77, ne 811, neg 28775, negative 42224 (nega encodes as n + ega).
  EXPECT_EQ(prefix_sum_candidates(qwen(), "negative"), (Ids{77, 811, 28775, 42224}));
  // entailment: e 68, en 268, ent 306, enta 16576, entai 35130; longer prefixes start with ent.
  EXPECT_EQ(prefix_sum_candidates(qwen(), "entailment"), (Ids{68, 268, 306, 16576, 35130}));
  EXPECT_EQ(prefix_sum_candidates(qwen(), "neutral"), (Ids{77, 811, 59568}));
  EXPECT_EQ(prefix_sum_candidates(qwen(), "contradiction"), (Ids{66, 443, 772, 1015, 8222, 96743}));
  EXPECT_EQ(prefix_sum_candidates(qwen(), "same"), (Ids{82, 9081, 24063, 45996}));
  // different: d 67, di 8579, dif 87464, diff 13490, different 63650.
  EXPECT_EQ(prefix_sum_candidates(qwen(), "different"), (Ids{67, 8579, 13490, 63650, 87464}));
}

TEST(PrefixSumCandidates, MistralLabelsUsePlainAndWordStartEntries) {
  // positive: p 28720, po 2345, pos 1065; ▁p 284, ▁po 1627, ▁pos 977, ▁posit 14139, ▁positive 5278.
  EXPECT_EQ(prefix_sum_candidates(mistral(), "positive"), (Ids{284, 977, 1065, 1627, 2345, 5278, 14139, 28720}));
  EXPECT_EQ(prefix_sum_candidates(mistral(), "negative"), (Ids{307, 435, 485, 3444, 7087, 12415, 23238, 28711}));
  EXPECT_EQ(prefix_sum_candidates(mistral(), "entailment"), (Ids{269, 308, 317, 481, 936, 11849, 28706}));
  EXPECT_EQ(prefix_sum_candidates(mistral(), "neutral"),
            (Ids{307, 435, 485, 8950, 14214, 21194, 23806, 25296, 28711}));
  EXPECT_EQ(prefix_sum_candidates(mistral(), "contradiction"),
            (Ids{277, 379, 514, 679, 1001, 1115, 1399, 4188, 11387, 11693, 15235, 28717}));
  EXPECT_EQ(prefix_sum_candidates(mistral(), "same"), (Ids{268, 637, 1348, 3820, 4545, 15084, 21317, 28713}));
  EXPECT_EQ(prefix_sum_candidates(mistral(), "different"), (Ids{281, 890, 1025, 1299, 1581, 2800, 5605, 11836, 28715}));
}

TEST(PrefixSumCandidates, NonAsciiLabelAddsTheByteFallbackTokenOfItsFirstByte) {
  // 中 is an entry (28991); 中 starts with byte 0xE4, whose fallback token <0xE4> is 231.
  EXPECT_EQ(prefix_sum_candidates(mistral(), "中性"), (Ids{231, 28991}));
  // Qwen has no byte-fallback tokens; 中 and 中性 both encode starting with 15946.
  EXPECT_EQ(prefix_sum_candidates(qwen(), "中性"), (Ids{15946}));
}

TEST(PrefixSumCandidates, RejectsEmptyAndInvalidLabels) {
  EXPECT_THROW(prefix_sum_candidates(qwen(), ""), Error);
  EXPECT_THROW(prefix_sum_candidates(qwen(), std::string("\xff\xfe", 2)), Error);
}

TEST(LabelSequenceIds, FollowThePromptEnding) {
  // Reference encodings: "\nAnswer: \"" -> [198, 16141, 25, 330] and with "entailment\"" appended
  // -> [..., 306, 604, 478, 1]; the Chinese ending "\n答案: \"" then "neutral\"" -> [59568, 1].
  EXPECT_EQ(label_sequence_ids(qwen(), "\nAnswer: \"", "entailment"), (Ids{306, 604, 478, 1}));
  EXPECT_EQ(label_sequence_ids(qwen(), "\n答案: \"", "neutral"), (Ids{59568, 1}));
  // Mistral: "ent" "ail" "ment" "\"" -> [308, 614, 466, 28739]; "neut" "ral" "\"" -> [23806, 1650, 28739].
  EXPECT_EQ(label_sequence_ids(mistral(), "\nAnswer: \"", "entailment"), (Ids{308, 614, 466, 28739}));
  EXPECT_EQ(label_sequence_ids(mistral(), "\n答案: \"", "neutral"), (Ids{23806, 1650, 28739}));
}

}  // namespace
}  // namespace qtalign::eval
