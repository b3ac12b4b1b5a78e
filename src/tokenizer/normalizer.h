#pragma once
// The "normalizer" of tokenizer.json: NFC/NFD/NFKC/NFKD (ICU), Prepend, Replace, Lowercase, Strip,
// and Sequence of these, applied as Hugging Face tokenizers does to each piece of text between
// added tokens.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace qtalign::tokenizer {

class Normalizer {
 public:
  // Builds the normalizer described by `config` (null: none); throws Error "<file>: normalizer: ..."
  // for unknown types and malformed fields.
  static Normalizer from_json(const nlohmann::json& config, const std::filesystem::path& file);
  ~Normalizer();
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;

  // `text` (valid UTF-8) after every step in order.
  std::string normalize(std::string_view text) const;
  // True when there is no step (normalize is the identity).
  bool empty() const { return steps_.empty(); }

 private:
  struct Step;
  Normalizer();
  // Appends the steps of one normalizer object (flattening Sequence).
  static void add_steps(const nlohmann::json& config, const std::filesystem::path& file,
                        std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace qtalign::tokenizer
