#pragma once
// The patterns of tokenizer.json ({"String": ...} or {"Regex": ...}), matched as the reference does:
// literal strings byte for byte, regexes (Oniguruma syntax) through PCRE2 in UTF + UCP mode.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace qtalign::tokenizer {

// A match: bytes [begin, end) of the searched text.
struct PatternMatch {
  size_t begin;
  size_t end;
};

class TextPattern {
 public:
  // Builds a tokenizer.json pattern object; throws Error "<file>: <where>: ..." when it is malformed
  // or the regex does not compile.
  static TextPattern from_json(const nlohmann::json& pattern, const std::filesystem::path& file,
                               const std::string& where);
  // A pattern matching `text` literally (an empty text matches nothing).
  static TextPattern literal(std::string text);
  // A regex in Oniguruma syntax; throws Error "<file>: <where>: ..." when it does not compile.
  static TextPattern regex(const std::string& source, const std::filesystem::path& file,
                           const std::string& where);

  ~TextPattern();
  TextPattern(TextPattern&&) noexcept;
  TextPattern& operator=(TextPattern&&) noexcept;

  // Non-overlapping matches in valid UTF-8 `text`, leftmost first, as Oniguruma's find_iter yields
  // them (an empty match right after the previous match is skipped).
  std::vector<PatternMatch> find_all(std::string_view text) const;
  // `text` with every match replaced by `replacement`.
  std::string replace_all(std::string_view text, std::string_view replacement) const;

 private:
  struct CompiledRegex;
  TextPattern(std::string literal, std::unique_ptr<CompiledRegex> regex);

  std::string literal_;
  std::unique_ptr<CompiledRegex> regex_;  // null for literal patterns
};

}  // namespace qtalign::tokenizer
