#include "tokenizer/post_processor.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;
using Ids = std::vector<int64_t>;

const char* kLlama2Template = R"({"type": "TemplateProcessing",
  "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
  "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})";

TEST(PostProcessor, TemplateAddsSpecialTokensAroundTheSequence) {
  EXPECT_EQ(PostProcessor::from_json(Json::parse(kLlama2Template), "tokenizer.json").add_special_tokens({5, 6}), (Ids{1, 5, 6}));
  const Json both = Json::parse(R"({"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]},
                       "[SEP]": {"id": "[SEP]", "ids": [102, 103], "tokens": ["[SEP]", "x"]}}})");
  EXPECT_EQ(PostProcessor::from_json(both, "tokenizer.json").add_special_tokens({7}), (Ids{101, 7, 102, 103}));
}

TEST(PostProcessor, ByteLevelAndNoneAddNothing) {
  EXPECT_EQ(PostProcessor::from_json({{"type", "ByteLevel"}}, "tokenizer.json").add_special_tokens({3}), (Ids{3}));
  EXPECT_EQ(PostProcessor::from_json(nullptr, "tokenizer.json").add_special_tokens({}), (Ids{}));
  const Json sequence = {{"type", "Sequence"}, {"processors", {{{"type", "ByteLevel"}}, Json::parse(kLlama2Template)}}};
  EXPECT_EQ(PostProcessor::from_json(sequence, "tokenizer.json").add_special_tokens({3}), (Ids{1, 3}));
}

TEST(PostProcessor, RejectsUnknownTypesAndUndefinedTokens) {
  EXPECT_THROW(PostProcessor::from_json({{"type", "BertProcessing"}}, "tokenizer.json"), Error);
  Json undefined = Json::parse(kLlama2Template);
  undefined["special_tokens"] = Json::object();
  EXPECT_THROW(PostProcessor::from_json(undefined, "tokenizer.json"), Error);
  Json no_sequence = Json::parse(kLlama2Template);
  no_sequence["single"].erase(1);
  EXPECT_THROW(PostProcessor::from_json(no_sequence, "tokenizer.json"), Error);
}

}  // namespace
}  // namespace qtalign::tokenizer
