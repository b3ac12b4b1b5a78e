#include "tokenizer/added_vocabulary.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

// The segments of `text` as strings, added tokens written [content].
std::vector<std::string> pieces(const AddedVocabulary& vocabulary, const std::string& text, bool normalized = false) {
  std::vector<std::string> out;
  for (const TextSegment& segment : vocabulary.split(text, normalized)) {
    const std::string piece = text.substr(segment.begin, segment.end - segment.begin);
    out.push_back(segment.token_index ? "[" + piece + "]" : piece);
  }
  return out;
}

Json token(int id, const std::string& content, bool special = true) {
  return {{"id", id}, {"content", content}, {"special", special}, {"normalized", false},
          {"lstrip", false}, {"rstrip", false}, {"single_word", false}};
}

TEST(AddedVocabulary, TheLongestTokenAtTheLeftmostPositionWins) {
  const auto vocabulary = AddedVocabulary::from_json(
      Json::array({token(10, "<|im"), token(11, "<|im_start|>"), token(12, "<s>")}), "tokenizer.json");
  EXPECT_EQ(pieces(vocabulary, "x<|im_start|>y<|imz<s><s>"),
            (std::vector<std::string>{"x", "[<|im_start|>]", "y", "[<|im]", "z", "[<s>]", "[<s>]"}));
  EXPECT_EQ(pieces(vocabulary, "plain"), (std::vector<std::string>{"plain"}));
  EXPECT_EQ(vocabulary.find_content("<s>")->id, 12);
  EXPECT_EQ(vocabulary.find_id(11)->content, "<|im_start|>");
  EXPECT_EQ(vocabulary.find_id(99), nullptr);
}

TEST(AddedVocabulary, StripFlagsAbsorbNeighbouringWhiteSpace) {
  Json mask = token(5, "<mask>");
  mask["lstrip"] = true;
  mask["rstrip"] = true;
  const auto vocabulary = AddedVocabulary::from_json(Json::array({mask}), "tokenizer.json");
  EXPECT_EQ(pieces(vocabulary, "a \u3000<mask>\t b"), (std::vector<std::string>{"a", "[ \u3000<mask>\t ]", "b"}));
}

TEST(AddedVocabulary, SingleWordTokensMatchOnlyAsWholeWords) {
  Json word = token(5, "ab");
  word["single_word"] = true;
  const auto vocabulary = AddedVocabulary::from_json(Json::array({word}), "tokenizer.json");
  EXPECT_EQ(pieces(vocabulary, "ab cab ab. abc"), (std::vector<std::string>{"[ab]", " cab ", "[ab]", ". abc"}));
}

TEST(AddedVocabulary, NormalizedTokensAreSearchedSeparately) {
  Json normalized = token(7, "hello", false);
  normalized["normalized"] = true;
  const auto vocabulary = AddedVocabulary::from_json(Json::array({normalized, token(8, "<s>")}), "tokenizer.json");
  EXPECT_TRUE(vocabulary.has_normalized_tokens());
  EXPECT_EQ(pieces(vocabulary, "hello<s>"), (std::vector<std::string>{"hello", "[<s>]"}));
  EXPECT_EQ(pieces(vocabulary, "hello<s>", true), (std::vector<std::string>{"[hello]", "<s>"}));
}

TEST(AddedVocabulary, NormalizedDefaultsToNotSpecial) {
  const auto vocabulary = AddedVocabulary::from_json(Json::parse(R"([{"id": 1, "content": "a"}, {"id": 2, "content": "b", "special": true}])"),
                                                     "tokenizer.json");
  EXPECT_TRUE(vocabulary.find_id(1)->normalized);
  EXPECT_FALSE(vocabulary.find_id(2)->normalized);
}

TEST(AddedVocabulary, RejectsMalformedEntries) {
  EXPECT_THROW(AddedVocabulary::from_json(Json::parse(R"([{"id": 1}])"), "tokenizer.json"), Error);
  EXPECT_THROW(AddedVocabulary::from_json(Json::parse(R"([{"id": 1, "content": ""}])"), "tokenizer.json"), Error);
  EXPECT_THROW(AddedVocabulary::from_json(Json::parse(R"([{"id": 1, "content": "a"}, {"id": 1, "content": "b"}])"), "tokenizer.json"),
               Error);
  EXPECT_THROW(AddedVocabulary::from_json(Json::parse(R"({"id": 1})"), "tokenizer.json"), Error);
}

}  // namespace
}  // namespace qtalign::tokenizer
