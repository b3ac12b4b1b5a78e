#pragma once
// Text for human-readable outputs: tokens shown as text, CSV fields.
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

// A token as readable text: its decoded form when that is valid UTF-8 on its own, else its
// vocabulary entry (e.g. a byte-level piece of a multi-byte character); control characters are
// written as escapes (a newline token reads "\n"), so the text never breaks a line.
std::string token_text(const tokenizer::Tokenizer& tokenizer, int64_t id);

// A CSV field (RFC 4180): quoted, with inner quotes doubled, when it holds a comma, quote or newline.
std::string csv_field(std::string_view text);

}  // namespace qtalign::analysis
