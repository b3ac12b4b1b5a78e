#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

namespace qtalign::tokenizer {
namespace {

// GPT-2's table: printable bytes stand for themselves, the rest count up from U+0100.
TEST(ByteLevelAlphabet, MatchesGpt2) {
  const ByteLevelAlphabet alphabet;
  EXPECT_EQ(alphabet.symbol('A'), "A");
  EXPECT_EQ(alphabet.symbol(0), "Ā");     // U+0100
  EXPECT_EQ(alphabet.symbol(' '), "Ġ");   // byte 32 is the 33rd non-printable: U+0120
  EXPECT_EQ(alphabet.symbol('\n'), "Ċ");  // U+010A
  EXPECT_EQ(alphabet.symbol(0x7F), "ġ");  // U+0121
  EXPECT_EQ(alphabet.symbol(0xAD), "Ń");  // U+0143, the last one
  EXPECT_EQ(alphabet.symbol(0xE9), "é");
  EXPECT_EQ(alphabet.encode("é "), "Ã©Ġ");
}

TEST(ByteLevelAlphabet, RoundTripsEveryByte) {
  const ByteLevelAlphabet alphabet;
  for (int byte = 0; byte < 256; ++byte) {
    size_t length = 0;
    const std::string& symbol = alphabet.symbol(static_cast<uint8_t>(byte));
    char32_t code_point = 0;
    for (unsigned char c : symbol) code_point = length++ == 0 ? (c < 0x80 ? c : c & 0x1F) : (code_point << 6) | (c & 0x3F);
    EXPECT_EQ(alphabet.byte_of(code_point), byte);
  }
  EXPECT_FALSE(alphabet.byte_of(U'€').has_value());
  EXPECT_FALSE(alphabet.byte_of(U' ').has_value());
}

}  // namespace
}  // namespace qtalign::tokenizer
