#include "tokenizer/byte_level.h"

#include "tokenizer/code_points.h"

namespace qtalign::tokenizer {

ByteLevelAlphabet::ByteLevelAlphabet() {
  byte_of_code_point_.fill(-1);
  char32_t next_extra = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    const char32_t code_point = printable ? static_cast<char32_t>(byte) : next_extra++;
    append_utf8(symbols_[byte], code_point);
    byte_of_code_point_[code_point] = static_cast<int16_t>(byte);
  }
}

std::string ByteLevelAlphabet::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char byte : bytes) out += symbols_[static_cast<uint8_t>(byte)];
  return out;
}

std::optional<uint8_t> ByteLevelAlphabet::byte_of(char32_t code_point) const {
  if (code_point >= byte_of_code_point_.size() || byte_of_code_point_[code_point] < 0) return std::nullopt;
  return static_cast<uint8_t>(byte_of_code_point_[code_point]);
}

}  // namespace qtalign::tokenizer
