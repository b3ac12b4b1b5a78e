#include "tokenizer/code_points.h"

#include <unicode/uchar.h>

namespace qtalign::tokenizer {

size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF8) return 4;
  return 1;
}

char32_t code_point_at(std::string_view text, size_t position, size_t& length) {
  const auto lead = static_cast<unsigned char>(text[position]);
  length = utf8_sequence_length(lead);
  if (length == 1 || position + length > text.size()) {
    length = 1;
    return lead;
  }
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t code_point = lead & kLeadMask[length];
  for (size_t k = 1; k < length; ++k)
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[position + k]) & 0x3F);
  return code_point;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

bool is_white_space(char32_t code_point) {
  return u_hasBinaryProperty(static_cast<UChar32>(code_point), UCHAR_WHITE_SPACE);
}

namespace {

// Length of the longest prefix of bytes[i..] that is a valid UTF-8 sequence or the start of one
// (Unicode's "maximal subpart"), and whether it is complete.
size_t valid_prefix_length(std::string_view bytes, size_t i, bool& complete) {
  const auto lead = static_cast<unsigned char>(bytes[i]);
  complete = false;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead < 0x80) {
    complete = true;
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 1;  // never valid as a lead byte
  }
  size_t k = 1;
  for (; k < length && i + k < bytes.size(); ++k) {
    const auto byte = static_cast<unsigned char>(bytes[i + k]);
    const bool in_range = k == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF);
    if (!in_range) return k;
  }
  complete = k == length;
  return k;
}

}  // namespace

std::string decode_utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    bool complete;
    const size_t length = valid_prefix_length(bytes, i, complete);
    if (complete) out.append(bytes.substr(i, length));
    else out += "\xEF\xBF\xBD";
    i += length;
  }
  return out;
}

}  // namespace qtalign::tokenizer
