#pragma once
// Hugging Face tokenizers (tokenizer.json), reproduced exactly: byte-level BPE (Qwen, Llama 3) and
// SentencePiece-style BPE with byte fallback (Llama 2, Mistral), normalizers, pre-tokenizers,
// added/special tokens, post-processor and decoders.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qtalign::tokenizer {

class Tokenizer {
 public:
  // Reads tokenizer.json; throws Error naming the file for anything unsupported or malformed.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Token ids of `text` (which must be valid UTF-8; throws Error otherwise). With add_special_tokens
  // the post-processor's tokens (e.g. Llama 2's <s>) are added, as Hugging Face does by default.
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = false) const;
  // Text of token ids, through the decoder; special tokens are dropped when asked. The spaces
  // transformers' clean-up removes (" ." " ," " n't" " 's" ...) are removed when `clean_up_spaces`
  // says so, or by default when tokenizer_config.json's clean_up_tokenization_spaces does (true
  // when it is absent, as in transformers.js).
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false,
                     std::optional<bool> clean_up_spaces = std::nullopt) const;

  // The vocabulary entry (as stored in tokenizer.json) of an id, and the id of an entry.
  const std::string& id_to_token(int64_t id) const;
  std::optional<int64_t> token_to_id(std::string_view token) const;
  // Number of ids (model vocabulary plus added tokens).
  int64_t vocab_size() const;
  // True for byte-level BPE vocabularies (GPT-2 byte mapping), false for SentencePiece-style ones.
  bool is_byte_level() const;
  // Ids of special tokens by role when the tokenizer defines them.
  std::optional<int64_t> bos_id() const;
  std::optional<int64_t> eos_id() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// tokenizer.json of a tokenizer given as its directory or as the file itself.
std::filesystem::path tokenizer_json_file(const std::filesystem::path& given);

}  // namespace qtalign::tokenizer
