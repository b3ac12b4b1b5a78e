#include "tokenizer/added_vocabulary.h"

#include <fmt/format.h>
#include <unicode/uchar.h>

#include <algorithm>

#include "io/error.h"
#include "io/utf8.h"
#include "tokenizer/code_points.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

bool flag(const Json& entry, const char* key, bool fallback, const std::filesystem::path& file, size_t index) {
  auto found = entry.find(key);
  if (found == entry.end() || found->is_null()) return fallback;
  if (!found->is_boolean()) fail_at(file, fmt::format("added_tokens[{}]: field '{}' must be true or false", index, key));
  return found->get<bool>();
}

// A "word" character as the \w of Rust's regex crate: alphabetic, mark, decimal digit, connector
// punctuation, or join control.
bool is_word_character(char32_t code_point) {
  const auto c = static_cast<UChar32>(code_point);
  if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) return true;
  const int32_t category = u_charType(c);
  return category == U_NON_SPACING_MARK || category == U_ENCLOSING_MARK || category == U_COMBINING_SPACING_MARK ||
         category == U_DECIMAL_DIGIT_NUMBER || category == U_CONNECTOR_PUNCTUATION;
}

// The code point that ends text[0, end).
char32_t code_point_before(std::string_view text, size_t end, size_t& start) {
  start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  size_t length = 0;
  return code_point_at(text, start, length);
}

}  // namespace

AddedVocabulary AddedVocabulary::from_json(const Json& added_tokens, const std::filesystem::path& file) {
  AddedVocabulary vocabulary;
  if (added_tokens.is_null()) return vocabulary;
  if (!added_tokens.is_array()) fail_at(file, "added_tokens must be an array");
  for (size_t i = 0; i < added_tokens.size(); ++i) {
    const Json& entry = added_tokens[i];
    if (!entry.is_object()) fail_at(file, fmt::format("added_tokens[{}] must be an object", i));
    auto id = entry.find("id");
    auto content = entry.find("content");
    if (id == entry.end() || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() > INT32_MAX)
      fail_at(file, fmt::format("added_tokens[{}]: missing or invalid 'id'", i));
    if (content == entry.end() || !content->is_string() || content->get_ref<const std::string&>().empty())
      fail_at(file, fmt::format("added_tokens[{}]: missing or empty 'content'", i));
    if (io::find_invalid_utf8(content->get_ref<const std::string&>()))
      fail_at(file, fmt::format("added_tokens[{}]: 'content' is not valid UTF-8", i));
    const bool special = flag(entry, "special", false, file, i);
    AddedToken token{id->get<int64_t>(),
                     content->get<std::string>(),
                     flag(entry, "single_word", false, file, i),
                     flag(entry, "lstrip", false, file, i),
                     flag(entry, "rstrip", false, file, i),
                     flag(entry, "normalized", !special, file, i),
                     special};
    if (vocabulary.index_of_id_.count(token.id))
      fail_at(file, fmt::format("added_tokens[{}]: id {} is used twice", i, token.id));
    if (vocabulary.index_of_content_.count(token.content))
      fail_at(file, fmt::format("added_tokens[{}]: content {} is listed twice", i, Json(token.content).dump()));
    vocabulary.index_of_id_[token.id] = vocabulary.tokens_.size();
    vocabulary.index_of_content_[token.content] = vocabulary.tokens_.size();
    vocabulary.tokens_.push_back(std::move(token));
  }
  for (size_t index = 0; index < vocabulary.tokens_.size(); ++index) {
    const AddedToken& token = vocabulary.tokens_[index];
    Matcher& matcher = vocabulary.matchers_[token.normalized ? 1 : 0];
    const auto first = static_cast<unsigned char>(token.content[0]);
    if (matcher.first_bytes.find(static_cast<char>(first)) == std::string::npos) matcher.first_bytes += static_cast<char>(first);
    matcher.by_first_byte[first].push_back(index);
  }
  for (Matcher& matcher : vocabulary.matchers_)
    for (auto& [byte, indices] : matcher.by_first_byte)
      std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
        return vocabulary.tokens_[a].content.size() > vocabulary.tokens_[b].content.size();
      });
  return vocabulary;
}

const AddedToken* AddedVocabulary::find_id(int64_t id) const {
  auto found = index_of_id_.find(id);
  return found == index_of_id_.end() ? nullptr : &tokens_[found->second];
}

const AddedToken* AddedVocabulary::find_content(std::string_view content) const {
  auto found = index_of_content_.find(std::string(content));
  return found == index_of_content_.end() ? nullptr : &tokens_[found->second];
}

std::vector<TextSegment> AddedVocabulary::split(std::string_view text, bool normalized) const {
  const Matcher& matcher = matchers_[normalized ? 1 : 0];
  std::vector<TextSegment> segments;
  size_t segment_start = 0;  // start of the text not yet assigned to a segment
  size_t position = 0;
  while (!matcher.first_bytes.empty() && position < text.size()) {
    position = text.find_first_of(matcher.first_bytes, position);
    if (position == std::string_view::npos) break;
    // The longest token starting here (leftmost-longest, as Hugging Face's Aho-Corasick search).
    std::optional<size_t> matched;
    for (size_t index : matcher.by_first_byte.at(static_cast<unsigned char>(text[position]))) {
      if (text.compare(position, tokens_[index].content.size(), tokens_[index].content) == 0) {
        matched = index;
        break;
      }
    }
    if (!matched) {
      ++position;
      continue;
    }
    const AddedToken& token = tokens_[*matched];
    size_t start = position, stop = position + token.content.size();
    position = stop;
    size_t length = 0, before = 0;
    if (token.single_word) {
      const bool word_before = start > 0 && is_word_character(code_point_before(text, start, before));
      const bool word_after = stop < text.size() && is_word_character(code_point_at(text, stop, length));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      while (start > segment_start && is_white_space(code_point_before(text, start, before))) start = before;
    }
    if (token.rstrip) {
      while (stop < text.size() && is_white_space(code_point_at(text, stop, length))) stop += length;
    }
    if (segment_start < start) segments.push_back({segment_start, start, std::nullopt});
    segments.push_back({start, stop, *matched});
    segment_start = stop;
    position = std::max(position, stop);
  }
  if (segment_start < text.size()) segments.push_back({segment_start, text.size(), std::nullopt});
  return segments;
}

}  // namespace qtalign::tokenizer
