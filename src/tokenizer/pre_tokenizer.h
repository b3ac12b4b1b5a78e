#pragma once
// The "pre_tokenizer" of tokenizer.json: Split (regex or string, all five delimiter behaviours,
// invert), ByteLevel (GPT-2 byte alphabet, optional GPT-2 regex), Metaspace (replacement character,
// prepend_scheme always/first/never, split), and Sequence of these. It cuts a normalized piece of
// text into the words the model tokenizes one by one.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace qtalign::tokenizer {

class PreTokenizer {
 public:
  // Builds the pre-tokenizer described by `config` (null: the whole piece is one word); throws
  // Error "<file>: pre_tokenizer: ..." for unknown types and malformed fields.
  static PreTokenizer from_json(const nlohmann::json& config, const std::filesystem::path& file);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Appends the words of `text` to `words`; `at_text_start` says whether `text` begins the input
  // (Metaspace's prepend_scheme "first" prepends only there).
  void split(std::string_view text, bool at_text_start, std::vector<std::string>& words) const;
  // True when a ByteLevel step writes the words in the GPT-2 byte alphabet.
  bool is_byte_level() const;

 private:
  struct Step;
  PreTokenizer();
  // Appends the steps of one pre-tokenizer object (flattening Sequence).
  static void add_steps(const nlohmann::json& config, const std::filesystem::path& file,
                        std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace qtalign::tokenizer
