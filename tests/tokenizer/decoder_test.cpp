#include "tokenizer/decoder.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;
using Tokens = std::vector<std::string>;

std::string decode(const Json& config, const Tokens& tokens) {
  return Decoder::from_json(config, "tokenizer.json").decode(tokens);
}

const Json kLlama2Decoder = Json::parse(R"({"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})");

TEST(Decoder, Llama2SequenceRestoresSpacesAndBytes) {
  EXPECT_EQ(decode(kLlama2Decoder, {"▁Hello", "▁world", "<0xE2>", "<0x9C>", "<0x93>"}), "Hello world✓");
  EXPECT_EQ(decode(kLlama2Decoder, {"▁▁", "▁x"}), "  x");  // only one leading space is stripped
}

// Hugging Face's ByteFallback writes one U+FFFD per byte of an invalid run.
TEST(Decoder, ByteFallbackReplacesInvalidRunsBytewise) {
  EXPECT_EQ(decode({{"type", "ByteFallback"}}, {"<0xE2>", "<0x9C>", "a", "<0x41>"}), "\uFFFD\uFFFDaA");
  EXPECT_EQ(decode({{"type", "ByteFallback"}}, {"<0xZZ>", "<0x4>"}), "<0xZZ><0x4>");
}

TEST(Decoder, ByteLevelMapsTheAlphabetBackToBytes) {
  EXPECT_EQ(decode({{"type", "ByteLevel"}}, {"Hello", "Ġworld", "Ċ", "ĠÃ©"}), "Hello world\n é");
  EXPECT_EQ(decode({{"type", "ByteLevel"}}, {"Ã"}), "\uFFFD");  // a lone lead byte
  // A token with a character outside the alphabet (an added token) keeps its own bytes.
  EXPECT_EQ(decode({{"type", "ByteLevel"}}, {"<|im_start|>", "日本"}), "<|im_start|>日本");
}

// The examples of Hugging Face's Metaspace decoder tests.
TEST(Decoder, MetaspaceDropsThePrependedReplacement) {
  EXPECT_EQ(decode({{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}}, {"▁Hey", "▁friend!"}),
            "Hey friend!");
  EXPECT_EQ(decode({{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "never"}}, {"▁Hey", "▁friend!"}),
            " Hey friend!");
}

TEST(Decoder, StripRemovesBoundedRunsOfTheContent) {
  EXPECT_EQ(decode({{"type", "Strip"}, {"content", " "}, {"start", 2}, {"stop", 1}}, {"   x  ", " "}), " x ");
}

TEST(Decoder, NoneJoinsWithSpaces) { EXPECT_EQ(decode(nullptr, {"a", "b"}), "a b"); }

TEST(Decoder, RejectsUnknownTypes) {
  EXPECT_THROW(decode({{"type", "CTC"}}, {}), Error);
  EXPECT_THROW(decode({{"type", "Strip"}, {"content", "ab"}}, {}), Error);
}

}  // namespace
}  // namespace qtalign::tokenizer
