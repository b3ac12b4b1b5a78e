#include "tokenizer/normalizer.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

std::string normalize(const Json& config, const std::string& text) {
  return Normalizer::from_json(config, "tokenizer.json").normalize(text);
}

TEST(Normalizer, UnicodeForms) {
  EXPECT_EQ(normalize({{"type", "NFC"}}, "Cafe\u0301 \u1112\u1161\u11ab"), "Café 한");
  EXPECT_EQ(normalize({{"type", "NFD"}}, "é"), "e\u0301");
  EXPECT_EQ(normalize({{"type", "NFKC"}}, "ﬁ ①"), "fi 1");
  EXPECT_EQ(normalize({{"type", "NFKD"}}, "ﬁé"), "fie\u0301");
  EXPECT_EQ(normalize({{"type", "NFC"}}, "already normal"), "already normal");
}

TEST(Normalizer, Llama2SequencePrependsAndReplacesSpaces) {
  const Json llama = Json::parse(R"({"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})");
  EXPECT_EQ(normalize(llama, "Hello  world "), "▁Hello▁▁world▁");
  EXPECT_EQ(normalize(llama, ""), "");  // Prepend leaves empty text alone
}

TEST(Normalizer, ReplaceWithARegex) {
  EXPECT_EQ(normalize({{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}}, "a \t\n b  c"), "a b c");
}

// Hugging Face lowercases character by character: a final capital sigma becomes σ, not ς.
TEST(Normalizer, LowercaseIsPerCharacter) {
  EXPECT_EQ(normalize({{"type", "Lowercase"}}, "ΟΔΟΣ ABC Ä"), "οδοσ abc ä");
  EXPECT_EQ(normalize({{"type", "Lowercase"}}, "İ"), "i\u0307");
}

TEST(Normalizer, StripRemovesUnicodeWhiteSpace) {
  EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, "\u3000 a b \t\n"), "a b");
  EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}, "  a  "), "  a");
  EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", false}}, "  a  "), "a  ");
  EXPECT_EQ(normalize({{"type", "Strip"}}, " \u2003 "), "");
}

TEST(Normalizer, NoneIsTheIdentity) {
  const Normalizer none = Normalizer::from_json(nullptr, "tokenizer.json");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.normalize("Cafe\u0301"), "Cafe\u0301");
}

TEST(Normalizer, RejectsUnknownTypesNamingTheFile) {
  try {
    normalize({{"type", "BertNormalizer"}}, "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: normalizer: unsupported type 'BertNormalizer'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(normalize({{"type", "Prepend"}}, "x"), Error);
  EXPECT_THROW(normalize({{"type", "Replace"}, {"content", "x"}}, "x"), Error);
}

}  // namespace
}  // namespace qtalign::tokenizer
