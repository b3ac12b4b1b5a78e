#pragma once
// GPT-2's byte-level alphabet: every byte is written as one printable code point, so that any text
// becomes a string over a 256-symbol alphabet (bytes 33-126, 161-172 and 174-255 stand for
// themselves; the others take code points 256, 257, ... in byte order).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qtalign::tokenizer {

class ByteLevelAlphabet {
 public:
  ByteLevelAlphabet();

  // The UTF-8 text of the code point that stands for `byte`.
  const std::string& symbol(uint8_t byte) const { return symbols_[byte]; }
  // `bytes` written in the alphabet.
  std::string encode(std::string_view bytes) const;
  // The byte a code point stands for, or nullopt when it is not in the alphabet.
  std::optional<uint8_t> byte_of(char32_t code_point) const;

 private:
  std::array<std::string, 256> symbols_;
  std::array<int16_t, 324> byte_of_code_point_;  // code points 0..323 -> byte, or -1
};

}  // namespace qtalign::tokenizer
