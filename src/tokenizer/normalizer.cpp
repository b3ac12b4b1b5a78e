#include "tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <variant>

#include "io/error.h"
#include "tokenizer/code_points.h"
#include "tokenizer/config_fields.h"
#include "tokenizer/text_pattern.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

struct UnicodeForm {
  std::string name;
  const icu::Normalizer2* normalizer;  // owned by ICU
};
struct Prepend {
  std::string prefix;
};
struct Replace {
  TextPattern pattern;
  std::string content;
};
struct Lowercase {};
struct Strip {
  bool left;
  bool right;
};

std::string apply_step(const UnicodeForm& step, std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
  if (step.normalizer->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
  step.normalizer->normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) throw Error(step.name + " normalization failed: " + u_errorName(status));
  return out;
}

// Hugging Face applies Prepend only to non-empty text.
std::string apply_step(const Prepend& step, std::string_view text) {
  if (text.empty()) return std::string();
  return step.prefix + std::string(text);
}

std::string apply_step(const Replace& step, std::string_view text) {
  return step.pattern.replace_all(text, step.content);
}

// Each code point is lowercased on its own (full mapping, no context such as final sigma), as
// Rust's char::to_lowercase does.
std::string apply_step(const Lowercase&, std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t length = 0;
  for (size_t i = 0; i < text.size(); i += length) {
    const char32_t code_point = code_point_at(text, i, length);
    if (code_point < 0x80) {
      out += static_cast<char>(code_point >= 'A' && code_point <= 'Z' ? code_point + 32 : code_point);
      continue;
    }
    UChar source[2];
    int32_t source_length = 0;
    U16_APPEND_UNSAFE(source, source_length, code_point);
    UChar lowered[8];
    UErrorCode status = U_ZERO_ERROR;
    const int32_t lowered_length = u_strToLower(lowered, 8, source, source_length, "", &status);
    if (U_FAILURE(status)) throw Error(std::string("lowercasing failed: ") + u_errorName(status));
    for (int32_t k = 0; k < lowered_length;) {
      UChar32 c;
      U16_NEXT(lowered, k, lowered_length, c);
      append_utf8(out, static_cast<char32_t>(c));
    }
  }
  return out;
}

std::string apply_step(const Strip& step, std::string_view text) {
  size_t begin = 0, end = text.size(), length = 0;
  if (step.left) {
    while (begin < end && is_white_space(code_point_at(text, begin, length))) begin += length;
  }
  if (step.right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      if (!is_white_space(code_point_at(text, start, length))) break;
      end = start;
    }
  }
  return std::string(text.substr(begin, end - begin));
}

const icu::Normalizer2* icu_normalizer(const std::string& form, const std::filesystem::path& file) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = nullptr;
  if (form == "NFC") normalizer = icu::Normalizer2::getNFCInstance(status);
  else if (form == "NFD") normalizer = icu::Normalizer2::getNFDInstance(status);
  else if (form == "NFKC") normalizer = icu::Normalizer2::getNFKCInstance(status);
  else normalizer = icu::Normalizer2::getNFKDInstance(status);
  if (U_FAILURE(status) || !normalizer)
    fail_at(file, "normalizer " + form + ": ICU cannot provide it (" + u_errorName(status) + ")");
  return normalizer;
}

}  // namespace

struct Normalizer::Step {
  std::variant<UnicodeForm, Prepend, Replace, Lowercase, Strip> kind;
};

Normalizer::Normalizer() = default;
Normalizer::~Normalizer() = default;
Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;

Normalizer Normalizer::from_json(const Json& config, const std::filesystem::path& file) {
  Normalizer normalizer;
  if (!config.is_null()) add_steps(config, file, normalizer.steps_);
  return normalizer;
}

std::string Normalizer::normalize(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_)
    current = std::visit([&](const auto& kind) { return apply_step(kind, current); }, step.kind);
  return current;
}

void Normalizer::add_steps(const Json& config, const std::filesystem::path& file, std::vector<Step>& steps) {
  const std::string where = "normalizer";
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string())
    fail_at(file, where + ": expected an object with a string 'type'");
  const std::string type = config["type"].get<std::string>();
  const std::string here = where + " " + type;
  if (type == "Sequence") {
    auto found = config.find("normalizers");
    if (found == config.end() || !found->is_array())
      fail_at(file, here + ": missing array field 'normalizers'");
    for (const Json& inner : *found) add_steps(inner, file, steps);
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    steps.push_back({UnicodeForm{type, icu_normalizer(type, file)}});
  } else if (type == "Prepend") {
    steps.push_back({Prepend{required_string(config, "prepend", file, here)}});
  } else if (type == "Replace") {
    auto pattern = config.find("pattern");
    if (pattern == config.end()) fail_at(file, here + ": missing field 'pattern'");
    steps.push_back({Replace{TextPattern::from_json(*pattern, file, here),
                             required_string(config, "content", file, here)}});
  } else if (type == "Lowercase") {
    steps.push_back({Lowercase{}});
  } else if (type == "Strip") {
    steps.push_back({Strip{optional_bool(config, "strip_left", true, file, here),
                           optional_bool(config, "strip_right", true, file, here)}});
  } else {
    fail_at(file, where + ": unsupported type '" + type +
                      "' (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Lowercase, Strip, Sequence)");
  }
}

}  // namespace qtalign::tokenizer
