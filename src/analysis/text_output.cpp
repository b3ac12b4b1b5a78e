#include "analysis/text_output.h"

#include <fmt/format.h>

#include "io/error.h"
#include "io/utf8.h"

namespace qtalign::analysis {
namespace {

// Control characters spelled out, so a token such as "\n" stays on its line in tables and CSV files.
std::string with_visible_controls(const std::string& text) {
  std::string visible;
  for (const char c : text) {
    if (c == '\n') visible += "\\n";
    else if (c == '\r') visible += "\\r";
    else if (c == '\t') visible += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) visible += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else visible += c;
  }
  return visible;
}

}  // namespace

std::string token_text(const tokenizer::Tokenizer& tokenizer, int64_t id) {
  // Models often pad their vocabulary beyond the tokenizer's (Qwen: 151936 rows, ~151.6k tokens).
  if (id < 0 || id >= tokenizer.vocab_size()) return fmt::format("<id {}>", id);
  try {
    std::string text = tokenizer.decode({id});
    if (!text.empty() && !io::find_invalid_utf8(text) && text.find("\xEF\xBF\xBD") == std::string::npos)
      return with_visible_controls(text);
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
