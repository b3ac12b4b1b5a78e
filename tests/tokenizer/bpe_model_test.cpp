#include "tokenizer/bpe_model.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

std::vector<int32_t> tokenize(const BpeModel& model, const std::string& word) {
  std::vector<int32_t> ids;
  model.tokenize(word, ids);
  return ids;
}

BpeModel model_of(const std::string& json) { return BpeModel::from_json(Json::parse(json), "tokenizer.json"); }

TEST(BpeModel, MergesTheLowestRankedPairFirst) {
  // "b c" outranks "a b", so "abc" becomes a + bc, then abc.
  const BpeModel bc_first = model_of(R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5},
                                         "merges": ["b c", "a b", "a bc"]})");
  EXPECT_EQ(tokenize(bc_first, "abc"), (std::vector<int32_t>{5}));
  // With "a b" first, "abc" becomes ab + c, and there is no "ab c" merge.
  const BpeModel ab_first = model_of(R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5},
                                         "merges": ["a b", "b c", "a bc"]})");
  EXPECT_EQ(tokenize(ab_first, "abc"), (std::vector<int32_t>{3, 2}));
}

TEST(BpeModel, BreaksTiesLeftmostFirst) {
  const BpeModel model = model_of(R"({"type": "BPE", "vocab": {"a": 0, "aa": 1}, "merges": ["a a"]})");
  EXPECT_EQ(tokenize(model, "aaa"), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(tokenize(model, "aaaa"), (std::vector<int32_t>{1, 1}));
}

TEST(BpeModel, AcceptsMergesAsPairs) {
  const BpeModel model = model_of(R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5},
                                      "merges": [["b", "c"], ["a", "b"], ["a", "bc"]]})");
  EXPECT_EQ(tokenize(model, "abc"), (std::vector<int32_t>{5}));
  EXPECT_EQ(tokenize(model, "cab"), (std::vector<int32_t>{2, 3}));
}

TEST(BpeModel, FallsBackToBytesThenToTheUnknownToken) {
  const BpeModel model = model_of(R"({"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
      "vocab": {"<unk>": 0, "<0xC3>": 1, "<0xA9>": 2, "a": 3}, "merges": []})");
  EXPECT_EQ(tokenize(model, "aé"), (std::vector<int32_t>{3, 1, 2}));  // é is C3 A9
  EXPECT_EQ(tokenize(model, "aüüa"), (std::vector<int32_t>{3, 0, 3}));  // ü (C3 BC) lacks <0xBC>; fused
}

TEST(BpeModel, UnknownCharactersAreFusedOnlyWithFuseUnk) {
  const std::string vocab = R"("vocab": {"<unk>": 0, "a": 1}, "merges": [])";
  EXPECT_EQ(tokenize(model_of(R"({"type": "BPE", "unk_token": "<unk>", "fuse_unk": false, )" + vocab + "}"), "xya"),
            (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(tokenize(model_of(R"({"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, )" + vocab + "}"), "xya"),
            (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(tokenize(model_of(R"({"type": "BPE", )" + vocab + "}"), "xya"), (std::vector<int32_t>{1}));
}

TEST(BpeModel, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  const std::string rest = R"("vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}, "merges": ["a b"]})";
  EXPECT_EQ(tokenize(model_of(R"({"type": "BPE", "ignore_merges": false, )" + rest), "abc"), (std::vector<int32_t>{3, 2}));
  EXPECT_EQ(tokenize(model_of(R"({"type": "BPE", "ignore_merges": true, )" + rest), "abc"), (std::vector<int32_t>{4}));
}

TEST(BpeModel, CachedWordsGiveTheSameIds) {
  const BpeModel model = model_of(R"({"type": "BPE", "vocab": {"a": 0, "aa": 1}, "merges": ["a a"]})");
  const auto first = tokenize(model, "aaaaa");
  EXPECT_EQ(tokenize(model, "aaaaa"), first);
  EXPECT_EQ(first, (std::vector<int32_t>{1, 1, 0}));
}

// Long SentencePiece-style words are tokenized run of "▁" by run when no entry has "▁" after another
// character; the result must be that of the whole word.
TEST(BpeModel, MetaspaceRunsGiveTheSameIdsAsWholeWords) {
  const BpeModel model = model_of(R"({"type": "BPE",
      "vocab": {"▁": 0, "a": 1, "b": 2, "▁a": 3, "ab": 4, "▁ab": 5, "▁▁": 6}, "merges": ["▁ a", "a b", "▁a b", "▁ ▁"]})");
  // Hand-run on the whole word: ▁a everywhere first (rank 0, leftmost first), then ▁ab.
  EXPECT_EQ(tokenize(model, "▁ab▁ab▁▁ab"), (std::vector<int32_t>{5, 5, 0, 5}));
  // An entry with "▁" inside ("b▁") lets merges cross runs, so the word must stay whole.
  const BpeModel crossing = model_of(R"({"type": "BPE",
      "vocab": {"▁": 0, "a": 1, "b": 2, "▁a": 3, "b▁": 4}, "merges": ["b ▁", "▁ a"]})");
  EXPECT_EQ(tokenize(crossing, "▁ab▁a"), (std::vector<int32_t>{3, 4, 1}));
}

TEST(BpeModel, LooksUpIdsAndTokens) {
  const BpeModel model = model_of(R"({"type": "BPE", "vocab": {"a": 0, "c": 5}, "merges": []})");
  EXPECT_EQ(model.token_to_id("c"), 5);
  EXPECT_FALSE(model.token_to_id("b").has_value());
  EXPECT_EQ(*model.id_to_token(0), "a");
  EXPECT_EQ(model.id_to_token(3), nullptr);  // a gap in the ids
  EXPECT_EQ(model.id_limit(), 6);
}

TEST(BpeModel, RejectsMalformedModels) {
  auto message = [](const std::string& json) -> std::string {
    try {
      model_of(json);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(R"({"type": "WordPiece", "vocab": {}})").find("unsupported type"), std::string::npos);
  EXPECT_NE(message(R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]})").find("\"b\", which is not in the vocabulary"),
            std::string::npos);
  EXPECT_NE(message(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]})").find("\"ab\", which is not"),
            std::string::npos);
  EXPECT_NE(message(R"({"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []})").find("share the id 0"), std::string::npos);
  EXPECT_NE(message(R"({"type": "BPE", "vocab": {"a": -1}, "merges": []})").find("invalid id"), std::string::npos);
  EXPECT_NE(message(R"({"type": "BPE", "vocab": {}, "merges": [], "dropout": 0.1})").find("dropout"), std::string::npos);
  EXPECT_NE(message(R"({"type": "BPE", "vocab": {}, "merges": [], "end_of_word_suffix": "</w>"})").find("end_of_word_suffix"),
            std::string::npos);
  EXPECT_EQ(message(R"({"type": "BPE", "vocab": {}, "merges": [], "continuing_subword_prefix": ""})"), "");
}

}  // namespace
}  // namespace qtalign::tokenizer
