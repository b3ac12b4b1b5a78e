#include "analysis/text_output.h"

#include <fmt/format.h>

#include "io/error.h"
#include "io/utf8.h"

namespace qtalign::analysis {

std::string token_text(const tokenizer::Tokenizer& tokenizer, int64_t id) {
  // Models often pad their vocabulary beyond the tokenizer's (Qwen: 151936 rows, ~151.6k tokens).
  if (id < 0 || id >= tokenizer.vocab_size()) return fmt::format("<id {}>", id);
  try {
    std::string text = tokenizer.decode({id});
    if (!text.empty() && !io::find_invalid_utf8(text) && text.find("\xEF\xBF\xBD") == std::string::npos)
      return text;
    return tokenizer.id_to_token(id);
  } catch (const Error&) {
    return fmt::format("<id {}>", id);  // an id inside the range that the tokenizer leaves unassigned
  }
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace qtalign::analysis
