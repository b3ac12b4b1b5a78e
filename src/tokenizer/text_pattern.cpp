#include "tokenizer/text_pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <optional>

#include "io/error.h"
#include "tokenizer/code_points.h"

namespace qtalign::tokenizer {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

// Oniguruma's \s and \S mean Unicode White_Space; PCRE2's differ in U+180E, so they are spelled
// out. Oniguruma's \h (a hex digit) means horizontal space in PCRE2: refused rather than mis-run.
std::string oniguruma_to_pcre2(const std::string& source, const std::filesystem::path& file,
                               const std::string& where) {
  std::string out;
  out.reserve(source.size() + 16);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] != '\\' || i + 1 == source.size()) {
      out += source[i];
      continue;
    }
    const char escaped = source[++i];
    if (escaped == 's') out += "\\p{White_Space}";
    else if (escaped == 'S') out += "\\P{White_Space}";
    else if (escaped == 'h' || escaped == 'H')
      fail_at(file, where + ": the regex escape \\" + std::string(1, escaped) +
                        " (Oniguruma hex digit) is not supported");
    else {
      out += '\\';
      out += escaped;
    }
  }
  return out;
}

}  // namespace

struct TextPattern::CompiledRegex {
  pcre2_code* code = nullptr;
  std::string source;
  ~CompiledRegex() { pcre2_code_free(code); }
};

TextPattern::TextPattern(std::string literal, std::unique_ptr<CompiledRegex> regex)
    : literal_(std::move(literal)), regex_(std::move(regex)) {}
TextPattern::~TextPattern() = default;
TextPattern::TextPattern(TextPattern&&) noexcept = default;
TextPattern& TextPattern::operator=(TextPattern&&) noexcept = default;

TextPattern TextPattern::literal(std::string text) { return TextPattern(std::move(text), nullptr); }

TextPattern TextPattern::regex(const std::string& source, const std::filesystem::path& file,
                               const std::string& where) {
  const std::string translated = oniguruma_to_pcre2(source, file, where);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (!code)
    fail_at(file, where + ": the regex " + nlohmann::json(source).dump() + " does not compile: " +
                      pcre2_message(error_code));
  auto compiled = std::make_unique<CompiledRegex>();
  compiled->code = code;
  compiled->source = source;
  // Without JIT (unsupported CPU) matching still works, only slower.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return TextPattern("", std::move(compiled));
}

TextPattern TextPattern::from_json(const nlohmann::json& pattern, const std::filesystem::path& file,
                                   const std::string& where) {
  if (!pattern.is_object() || pattern.size() != 1)
    fail_at(file, where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
  if (auto found = pattern.find("String"); found != pattern.end() && found->is_string())
    return literal(found->get<std::string>());
  if (auto found = pattern.find("Regex"); found != pattern.end() && found->is_string())
    return regex(found->get<std::string>(), file, where);
  fail_at(file, where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

std::vector<PatternMatch> TextPattern::find_all(std::string_view text) const {
  std::vector<PatternMatch> matches;
  if (!regex_) {
    if (literal_.empty()) return matches;
    for (size_t at = text.find(literal_); at != std::string_view::npos;
         at = text.find(literal_, at + literal_.size()))
      matches.push_back({at, at + literal_.size()});
    return matches;
  }
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
      pcre2_match_data_create_from_pattern(regex_->code, nullptr), &pcre2_match_data_free);
  if (!match_data) throw std::bad_alloc();
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::optional<size_t> previous_end;
  size_t start = 0;
  while (start <= text.size()) {
    // The text was validated once on entry; the JIT's stack is small, so deep backtracking falls
    // back to the interpreter (which uses the heap).
    int rc = pcre2_match(regex_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                         match_data.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(regex_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                       match_data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      throw Error("tokenizer regex " + nlohmann::json(regex_->source).dump() +
                  " failed on a text of " + std::to_string(text.size()) +
                  " bytes: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
    const size_t begin = ovector[0], end = ovector[1];
    if (begin == end && previous_end == end) {
      if (start == text.size()) break;
      start += utf8_sequence_length(static_cast<unsigned char>(text[start]));
      continue;
    }
    matches.push_back({begin, end});
    previous_end = end;
    start = end;
  }
  return matches;
}

std::string TextPattern::replace_all(std::string_view text, std::string_view replacement) const {
  std::string out;
  size_t copied = 0;
  for (const PatternMatch& match : find_all(text)) {
    out.append(text.substr(copied, match.begin - copied));
    out.append(replacement);
    copied = match.end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace qtalign::tokenizer
