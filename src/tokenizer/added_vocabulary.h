#pragma once
// The "added_tokens" of tokenizer.json (special tokens such as <|im_start|> or <s>, and user-added
// ones). They are found in the text before the normalizer and the model run: at each position the
// longest token wins, leftmost first, honouring single_word, lstrip and rstrip. Tokens with
// normalized=false are found in the raw text, those with normalized=true in the normalized text.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qtalign::tokenizer {

// One entry of "added_tokens", with the flags that say how it is found in text.
struct AddedToken {
  int64_t id;
  std::string content;
  bool single_word;
  bool lstrip;
  bool rstrip;
  bool normalized;
  bool special;
};

// Bytes [begin, end) of a text: an added token (token_index set) or text for the normalizer and model.
struct TextSegment {
  size_t begin;
  size_t end;
  std::optional<size_t> token_index;  // into AddedVocabulary::tokens()
};

class AddedVocabulary {
 public:
  // Reads the "added_tokens" array (null or absent: none); throws Error "<file>: added_tokens[i]: ..."
  // for malformed entries.
  static AddedVocabulary from_json(const nlohmann::json& added_tokens, const std::filesystem::path& file);

  // Cuts `text` at the tokens with the given `normalized` flag into segments that cover it in order;
  // a token's segment includes the white space its lstrip/rstrip absorbs.
  std::vector<TextSegment> split(std::string_view text, bool normalized) const;
  // True when some token has normalized=true (the normalized text must be searched too).
  bool has_normalized_tokens() const { return !matchers_[1].first_bytes.empty(); }

  // Every added token, in file order.
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The token with this id, or null.
  const AddedToken* find_id(int64_t id) const;
  // The token with this content, or null.
  const AddedToken* find_content(std::string_view content) const;

 private:
  // Finds tokens by their first byte, longest first.
  struct Matcher {
    std::string first_bytes;  // the bytes some token starts with
    std::unordered_map<unsigned char, std::vector<size_t>> by_first_byte;  // -> token indices
  };
  std::vector<AddedToken> tokens_;
  std::unordered_map<int64_t, size_t> index_of_id_;
  std::unordered_map<std::string, size_t> index_of_content_;
  Matcher matchers_[2];  // [normalized flag]
};

}  // namespace qtalign::tokenizer
