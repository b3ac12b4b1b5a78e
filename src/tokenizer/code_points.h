#pragma once
// Walking UTF-8 text code point by code point, and the Unicode facts the tokenizer stages share.
#include <cstddef>
#include <string>
#include <string_view>

namespace qtalign::tokenizer {

// Byte length of the UTF-8 sequence that starts with `lead` (1 for bytes that cannot start one).
size_t utf8_sequence_length(unsigned char lead);

// The code point at `position` of valid UTF-8 `text`; its byte length is stored in `length`.
char32_t code_point_at(std::string_view text, size_t position, size_t& length);

// Appends the UTF-8 encoding of `code_point` to `out`.
void append_utf8(std::string& out, char32_t code_point);

// Unicode White_Space, the meaning of Rust's char::is_whitespace and of \s in the reference regexes.
bool is_white_space(char32_t code_point);

// Bytes as text: each maximal invalid subsequence becomes U+FFFD, as Rust's from_utf8_lossy does.
std::string decode_utf8_lossy(std::string_view bytes);

}  // namespace qtalign::tokenizer
