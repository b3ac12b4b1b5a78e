#include "tokenizer/code_points.h"

#include <gtest/gtest.h>

namespace qtalign::tokenizer {
namespace {

TEST(CodePoints, DecodesAndEncodesUtf8) {
  const std::string text = "aé€😀";
  std::vector<char32_t> decoded;
  size_t length = 0;
  for (size_t i = 0; i < text.size(); i += length) decoded.push_back(code_point_at(text, i, length));
  EXPECT_EQ(decoded, (std::vector<char32_t>{U'a', U'é', U'€', U'😀'}));
  std::string encoded;
  for (char32_t c : decoded) append_utf8(encoded, c);
  EXPECT_EQ(encoded, text);
  EXPECT_EQ(utf8_sequence_length(0xF0), 4u);
  EXPECT_EQ(utf8_sequence_length(0x80), 1u);
}

TEST(CodePoints, WhiteSpaceIsTheUnicodeProperty) {
  for (char32_t c : {U' ', U'\t', U'\n', U'\u0085', U'\u00A0', U'\u2028', U'\u3000'}) EXPECT_TRUE(is_white_space(c)) << c;
  for (char32_t c : {U'a', U'\u180E', U'\uFEFF', U'\u200B'}) EXPECT_FALSE(is_white_space(c)) << c;
}

// Unicode's recommended practice (and Rust's from_utf8_lossy): one U+FFFD per maximal subpart.
TEST(CodePoints, LossyDecodingReplacesMaximalSubparts) {
  EXPECT_EQ(decode_utf8_lossy("ok"), "ok");
  EXPECT_EQ(decode_utf8_lossy("a\xF0\x9F\x98"), "a\uFFFD");               // truncated 4-byte sequence
  EXPECT_EQ(decode_utf8_lossy("\xC0\xAF"), "\uFFFD\uFFFD");                // overlong: never valid bytes
  EXPECT_EQ(decode_utf8_lossy("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");      // surrogate
  EXPECT_EQ(decode_utf8_lossy("\xE2\x9C" "b"), "\uFFFDb");
  EXPECT_EQ(decode_utf8_lossy("\xF4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");  // past U+10FFFF
}

}  // namespace
}  // namespace qtalign::tokenizer
