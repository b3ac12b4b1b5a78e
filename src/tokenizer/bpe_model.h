#pragma once
// The BPE "model" of tokenizer.json: a vocabulary, ranked merges (written "a b" or ["a", "b"]), and
// the options real files use: unk_token, fuse_unk, byte_fallback (<0xXX> tokens), ignore_merges.
// A word is split into characters, then the adjacent pair with the lowest merge rank (leftmost on
// ties) is merged until no pair has a merge, exactly as Hugging Face tokenizers does.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qtalign::tokenizer {

class BpeModel {
 public:
  // Builds the model described by the "model" object; throws Error "<file>: model: ..." for other
  // model types, unsupported options, and merges or unk_token that name tokens not in the vocabulary.
  static BpeModel from_json(const nlohmann::json& config, const std::filesystem::path& file);
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;

  // Appends the ids of `word` (valid UTF-8) to `ids`. Results are cached per word; safe to call from
  // several threads at once.
  void tokenize(const std::string& word, std::vector<int32_t>& ids) const;

  // The id of a vocabulary entry.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The vocabulary entry of an id, or null when no entry has it.
  const std::string* id_to_token(int64_t id) const;
  // One past the largest id of the vocabulary.
  int64_t id_limit() const { return static_cast<int64_t>(id_to_token_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  // Merges by (left id, right id): open addressing, linear probing; lookups dominate encoding.
  class MergeTable {
   public:
    void reserve(size_t count);
    void insert(int32_t left, int32_t right, Merge merge);
    const Merge* find(int32_t left, int32_t right) const;

   private:
    struct Slot {
      uint64_t key;
      Merge merge;
    };
    size_t slot_of(uint64_t key) const;
    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
    int shift_ = 64;
  };
  struct Cache;
  struct Symbol;
  BpeModel();
  // The parts of from_json: the vocabulary, the merges, and the options that follow them.
  void read_vocabulary(const nlohmann::json& vocab, const std::filesystem::path& file);
  void read_merges(const nlohmann::json& merges, const std::filesystem::path& file);
  void read_options(const nlohmann::json& config, const std::filesystem::path& file);
  // Appends the ids of one word, through the cache.
  void tokenize_cached(const std::string& word, std::vector<int32_t>& ids) const;
  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;
  // The word's characters as the symbols merging starts from, linked in a list.
  std::vector<Symbol> word_symbols(std::string_view word) const;
  int32_t character_id(std::string_view character, char32_t code_point) const;

  std::unordered_map<std::string, int32_t> token_to_id_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> id_present_;
  std::vector<int32_t> bmp_character_ids_;  // code point < 0x10000 -> id of that one-character token, or -1
  MergeTable merges_;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::vector<int32_t> byte_fallback_ids_;  // byte -> id of "<0xXX>", or -1
  bool split_at_metaspace_runs_ = false;    // words may be cut where a run of U+2581 starts
  std::unique_ptr<Cache> cache_;
};

}  // namespace qtalign::tokenizer
