#pragma once
// The "post_processor" of tokenizer.json for a single sequence: TemplateProcessing (e.g. Llama 2's
// "<s> $A"), ByteLevel (changes only offsets, so nothing here), and Sequence of these. Applied when
// special tokens are asked for.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

namespace qtalign::tokenizer {

class PostProcessor {
 public:
  // Builds the post-processor described by `config` (null: none); throws Error
  // "<file>: post_processor: ..." for unknown types, malformed templates and undefined special tokens.
  static PostProcessor from_json(const nlohmann::json& config, const std::filesystem::path& file);

  // `ids` of one sequence with the template's special tokens around them.
  std::vector<int64_t> add_special_tokens(const std::vector<int64_t>& ids) const;

 private:
  // Ids before and after the sequence; templates compose, so a Sequence of them stays one pair.
  std::vector<int64_t> prefix_;
  std::vector<int64_t> suffix_;
  static void add(const nlohmann::json& config, const std::filesystem::path& file, PostProcessor& out);
};

}  // namespace qtalign::tokenizer
