#pragma once
// The "decoder" of tokenizer.json: ByteLevel (GPT-2 byte alphabet back to bytes), Metaspace,
// Replace, ByteFallback (<0xXX> tokens back to bytes), Fuse, Strip, and Sequence of these. Turns
// token strings back into text as Hugging Face tokenizers does.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qtalign::tokenizer {

class Decoder {
 public:
  // Builds the decoder described by `config` (null: tokens joined with spaces); throws Error
  // "<file>: decoder: ..." for unknown types and malformed fields.
  static Decoder from_json(const nlohmann::json& config, const std::filesystem::path& file);
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;

  // The text of `tokens` (vocabulary entries).
  std::string decode(std::vector<std::string> tokens) const;

 private:
  struct Step;
  Decoder();
  // Appends the steps of one decoder object (flattening Sequence).
  static void add_steps(const nlohmann::json& config, const std::filesystem::path& file, std::vector<Step>& steps);
  std::vector<Step> steps_;
  bool configured_ = false;
};

}  // namespace qtalign::tokenizer
