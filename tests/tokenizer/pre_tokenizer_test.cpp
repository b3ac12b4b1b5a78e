#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;
using Words = std::vector<std::string>;

Words split(const Json& config, const std::string& text, bool at_start = true) {
  Words words;
  PreTokenizer::from_json(config, "tokenizer.json").split(text, at_start, words);
  return words;
}

Json split_on_dash(const std::string& behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
}

// The examples of Hugging Face's documentation of SplitDelimiterBehavior.
TEST(PreTokenizer, SplitHonoursEveryDelimiterBehaviour) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(split(split_on_dash("Removed"), text), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(split(split_on_dash("Isolated"), text), (Words{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(split_on_dash("MergedWithPrevious"), text), (Words{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(split_on_dash("MergedWithNext"), text), (Words{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(split_on_dash("Contiguous"), text), (Words{"the", "-", "final", "--", "countdown"}));
  // Inverted, the pattern marks what to keep: Removed then drops everything else.
  EXPECT_EQ(split(split_on_dash("Removed", true), text), (Words{"-", "-", "-"}));
}

TEST(PreTokenizer, QwenRegexThenByteLevel) {
  const Json qwen = Json::parse(R"({"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]})");
  // Hand-derived: single digits, the space before digits kept apart, newlines together, and the
  // space written Ġ (U+0120) and the newline Ċ (U+010A).
  EXPECT_EQ(split(qwen, "Hello world's  123\n\n"),
            (Words{"Hello", "Ġworld", "'s", "Ġ", "Ġ", "1", "2", "3", "ĊĊ"}));
  EXPECT_EQ(split(qwen, "IT'S"), (Words{"IT", "'S"}));
  EXPECT_TRUE(PreTokenizer::from_json(qwen, "tokenizer.json").is_byte_level());
}

TEST(PreTokenizer, ByteLevelWithGpt2RegexAndPrefixSpace) {
  const Json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_EQ(split(byte_level, "Hello world"), (Words{"ĠHello", "Ġworld"}));
  EXPECT_EQ(split(byte_level, "é!"), (Words{"ĠÃ©", "!"}));  // é is bytes C3 A9
}

// The examples of Hugging Face's Metaspace tests.
TEST(PreTokenizer, MetaspaceReplacesSpacesAndSplitsBeforeThem) {
  const Json always = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_EQ(split(always, "Hey friend!"), (Words{"▁Hey", "▁friend!"}));
  EXPECT_EQ(split(always, "Hey   friend!"), (Words{"▁Hey", "▁", "▁", "▁friend!"}));
  EXPECT_EQ(split(always, "how", false), (Words{"▁how"}));

  const Json first = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  EXPECT_EQ(split(first, "Hey my friend ", true), (Words{"▁Hey▁my▁friend▁"}));
  EXPECT_EQ(split(first, "how are you", false), (Words{"how▁are▁you"}));
  EXPECT_EQ(split(first, " Hey ", true), (Words{"▁Hey▁"}));

  const Json legacy = {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", false}};
  EXPECT_EQ(split(legacy, "a b"), (Words{"a", "▁b"}));
}

TEST(PreTokenizer, NoneKeepsThePieceWhole) { EXPECT_EQ(split(nullptr, "a b"), (Words{"a b"})); }

TEST(PreTokenizer, RejectsUnknownTypesAndBadFields) {
  EXPECT_THROW(split({{"type", "BertPreTokenizer"}}, "x"), Error);
  EXPECT_THROW(split({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "Sideways"}}, "x"), Error);
  EXPECT_THROW(split({{"type", "Metaspace"}, {"replacement", "ab"}}, "x"), Error);
  EXPECT_THROW(split({{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "sometimes"}}, "x"), Error);
}

}  // namespace
}  // namespace qtalign::tokenizer
