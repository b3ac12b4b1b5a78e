#include "tokenizer/text_pattern.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

std::vector<std::string> matches(const TextPattern& pattern, const std::string& text) {
  std::vector<std::string> out;
  for (const PatternMatch& match : pattern.find_all(text)) out.push_back(text.substr(match.begin, match.end - match.begin));
  return out;
}

TextPattern regex(const std::string& source) { return TextPattern::regex(source, "tokenizer.json", "test"); }

// \s is Unicode White_Space, as in Oniguruma: U+0085 is white space, U+180E and U+FEFF are not.
TEST(TextPattern, WhiteSpaceIsUnicodeWhiteSpace) {
  EXPECT_EQ(matches(regex("\\s+"), "a\u0085\u3000b\u180Ec\uFEFFd\u00A0"), (std::vector<std::string>{"\u0085\u3000", "\u00A0"}));
  EXPECT_EQ(matches(regex("[^\\s]+"), "x\u180Ey z"), (std::vector<std::string>{"x\u180Ey", "z"}));
  EXPECT_EQ(matches(regex("\\S+"), "ab\u2028cd"), (std::vector<std::string>{"ab", "cd"}));
}

TEST(TextPattern, UnicodeClassesAndCaseInsensitiveGroups) {
  EXPECT_EQ(matches(regex("\\p{L}+|\\p{N}"), "Ünïcode 12 ১"), (std::vector<std::string>{"Ünïcode", "1", "2", "১"}));
  EXPECT_EQ(matches(regex("(?i:'s|'ll)"), "it'S we'LL"), (std::vector<std::string>{"'S", "'LL"}));
}

// Like Oniguruma's find_iter: an empty match right after the previous match is skipped.
TEST(TextPattern, EmptyMatchesAdvance) {
  const auto found = regex("x*").find_all("axb");
  std::vector<std::pair<size_t, size_t>> spans;
  for (const PatternMatch& match : found) spans.push_back({match.begin, match.end});
  EXPECT_EQ(spans, (std::vector<std::pair<size_t, size_t>>{{0, 0}, {1, 2}, {3, 3}}));
}

TEST(TextPattern, LiteralsMatchWithoutOverlap) {
  EXPECT_EQ(matches(TextPattern::literal("aa"), "aaaaa"), (std::vector<std::string>{"aa", "aa"}));
  EXPECT_EQ(matches(TextPattern::literal("."), "a.b"), (std::vector<std::string>{"."}));
  EXPECT_TRUE(TextPattern::literal("").find_all("abc").empty());
  EXPECT_EQ(TextPattern::literal(" ").replace_all("a b  c", "▁"), "a▁b▁▁c");
}

TEST(TextPattern, ReadsTokenizerJsonPatterns) {
  EXPECT_EQ(matches(TextPattern::from_json({{"String", "a+"}}, "tokenizer.json", "test"), "aa+a+"),
            (std::vector<std::string>{"a+", "a+"}));
  EXPECT_EQ(matches(TextPattern::from_json({{"Regex", "a+"}}, "tokenizer.json", "test"), "aa+a+"),
            (std::vector<std::string>{"aa", "a"}));
  EXPECT_THROW(TextPattern::from_json({{"Glob", "*"}}, "tokenizer.json", "test"), Error);
  EXPECT_THROW(TextPattern::from_json("a", "tokenizer.json", "test"), Error);
}

TEST(TextPattern, BadRegexesAreErrorsNamingTheFile) {
  try {
    regex("(a");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: test: the regex \"(a\" does not compile"), std::string::npos) << e.what();
  }
  EXPECT_THROW(regex("\\h+"), Error);  // Oniguruma's hex digit; PCRE2 would mean something else
}

// Deep backtracking must not fail on long inputs (the JIT stack is small).
TEST(TextPattern, LongWhiteSpaceRuns) {
  const auto pattern = regex("\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
  const std::string spaces(1 << 20, ' ');
  EXPECT_EQ(matches(pattern, spaces + "x"), (std::vector<std::string>{std::string((1 << 20) - 1, ' '), " "}));
}

}  // namespace
}  // namespace qtalign::tokenizer
