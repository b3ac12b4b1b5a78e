#include "tokenizer/bpe_model.h"

#include <fmt/format.h>

#include <mutex>
#include <queue>

#include "io/error.h"
#include "tokenizer/code_points.h"
#include "tokenizer/config_fields.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

// Words longer than this are rare and not worth caching; the cache stops growing at its capacity.
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kCacheCapacity = 200'000;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// SentencePiece's word-boundary mark.
constexpr std::string_view kMetaspace = "\u2581";

// True when the "▁" at byte `at` of `text` comes right after another "▁".
bool follows_metaspace(std::string_view text, size_t at) {
  return at >= kMetaspace.size() && text.substr(at - kMetaspace.size(), kMetaspace.size()) == kMetaspace;
}

constexpr uint64_t kEmptySlot = ~uint64_t{0};  // ids are below 2^31, so no pair has this key

// The two halves of merge number `rank`.
std::pair<std::string, std::string> merge_parts(const Json& merge, size_t rank, const std::filesystem::path& file) {
  if (merge.is_string()) {
    const std::string& text = merge.get_ref<const std::string&>();
    const size_t space = text.find(' ');
    if (space == std::string::npos)
      fail_at(file, fmt::format("model: merges[{}] {} is not two tokens separated by a space", rank, merge.dump()));
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
    return {merge[0].get<std::string>(), merge[1].get<std::string>()};
  fail_at(file, fmt::format("model: merges[{}] must be \"a b\" or [\"a\", \"b\"], not {}", rank, merge.dump()));
}

}  // namespace

void BpeModel::MergeTable::reserve(size_t count) {
  size_t capacity = 16;
  int bits = 4;
  while (capacity < 2 * count) {
    capacity *= 2;
    ++bits;
  }
  slots_.assign(capacity, Slot{kEmptySlot, {0, 0}});
  mask_ = capacity - 1;
  shift_ = 64 - bits;
}

size_t BpeModel::MergeTable::slot_of(uint64_t key) const {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

// Callers reserve room for every merge first; a repeated pair keeps the later merge, as the
// reference's map does.
void BpeModel::MergeTable::insert(int32_t left, int32_t right, Merge merge) {
  const uint64_t key = pair_key(left, right);
  for (size_t slot = slot_of(key);; slot = (slot + 1) & mask_) {
    if (slots_[slot].key == kEmptySlot || slots_[slot].key == key) {
      slots_[slot] = Slot{key, merge};
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::MergeTable::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return nullptr;
  const uint64_t key = pair_key(left, right);
  for (size_t slot = slot_of(key);; slot = (slot + 1) & mask_) {
    if (slots_[slot].key == key) return &slots_[slot].merge;
    if (slots_[slot].key == kEmptySlot) return nullptr;
  }
}

struct BpeModel::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>> words;
};

BpeModel::BpeModel() : cache_(std::make_unique<Cache>()) {}
BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

namespace {

// Refuses what this implementation does not support (another model type, affixes, dropout) and a
// model without its vocabulary or merges.
void check_model_fields(const Json& config, const std::filesystem::path& file) {
  if (!config.is_object()) fail_at(file, "model: expected an object");
  auto type = config.find("type");
  if (type != config.end() && !(type->is_string() && type->get<std::string>() == "BPE"))
    fail_at(file, "model: unsupported type " + type->dump() + " (supported: BPE)");
  if (type == config.end() && !config.contains("merges"))
    fail_at(file, "model: missing field 'type' (supported: BPE)");
  auto vocab = config.find("vocab");
  if (vocab == config.end() || !vocab->is_object()) fail_at(file, "model: missing object field 'vocab'");
  auto merges = config.find("merges");
  if (merges == config.end() || !merges->is_array()) fail_at(file, "model: missing array field 'merges'");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto found = config.find(affix);
    if (found != config.end() && !found->is_null() && !(found->is_string() && found->get_ref<const std::string&>().empty()))
      fail_at(file, std::string("model: '") + affix + "' is not supported");
  }
  if (auto dropout = config.find("dropout");
      dropout != config.end() && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0))
    fail_at(file, "model: BPE dropout is not supported (it makes encoding random)");
}

}  // namespace

BpeModel BpeModel::from_json(const Json& config, const std::filesystem::path& file) {
  check_model_fields(config, file);
  BpeModel model;
  model.read_vocabulary(config["vocab"], file);
  model.read_merges(config["merges"], file);
  model.read_options(config, file);
  return model;
}

void BpeModel::read_vocabulary(const Json& vocab, const std::filesystem::path& file) {
  token_to_id_.reserve(vocab.size());
  for (const auto& [token, id_value] : vocab.items()) {
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0 || id_value.get<int64_t>() > INT32_MAX)
      fail_at(file, "model: vocab entry " + Json(token).dump() + " has an invalid id " + id_value.dump());
    const auto id = static_cast<int32_t>(id_value.get<int64_t>());
    if (static_cast<size_t>(id) >= id_to_token_.size()) {
      id_to_token_.resize(id + 1);
      id_present_.resize(id + 1, false);
    }
    if (id_present_[id])
      fail_at(file, fmt::format("model: vocab entries {} and {} share the id {}", Json(id_to_token_[id]).dump(),
                                Json(token).dump(), id));
    id_to_token_[id] = token;
    id_present_[id] = true;
    token_to_id_.emplace(token, id);
  }
  bmp_character_ids_.assign(0x10000, -1);
  for (const auto& [token, id] : token_to_id_) {
    size_t length = 0;
    if (token.empty()) continue;
    const char32_t code_point = code_point_at(token, 0, length);
    if (length == token.size() && code_point < 0x10000) bmp_character_ids_[code_point] = id;
  }
}

void BpeModel::read_merges(const Json& merges, const std::filesystem::path& file) {
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // Plain names, not structured bindings: C++17 lambdas cannot capture those.
    const auto parts = merge_parts(merges[rank], rank, file);
    const std::string& left = parts.first;
    const std::string& right = parts.second;
    auto id_of = [&](const std::string& token) {
      auto found = token_to_id_.find(token);
      if (found == token_to_id_.end())
        fail_at(file, fmt::format("model: merges[{}] ({} {}) refers to {}, which is not in the vocabulary", rank,
                                  Json(left).dump(), Json(right).dump(), Json(token).dump()));
      return found->second;
    };
    const int32_t left_id = id_of(left);
    const int32_t right_id = id_of(right);
    merges_.insert(left_id, right_id, Merge{static_cast<int32_t>(rank), id_of(left + right)});
  }
}

void BpeModel::read_options(const Json& config, const std::filesystem::path& file) {
  if (auto unk = config.find("unk_token"); unk != config.end() && !unk->is_null()) {
    if (!unk->is_string()) fail_at(file, "model: 'unk_token' must be a string or null");
    auto found = token_to_id_.find(unk->get<std::string>());
    if (found == token_to_id_.end())
      fail_at(file, "model: unk_token " + unk->dump() + " is not in the vocabulary");
    unk_id_ = found->second;
  }
  fuse_unk_ = optional_bool(config, "fuse_unk", false, file, "model");
  byte_fallback_ = optional_bool(config, "byte_fallback", false, file, "model");
  ignore_merges_ = optional_bool(config, "ignore_merges", false, file, "model");
  // When no entry has "▁" right after another character, no merge crosses the start of a run of
  // "▁", so long words (SentencePiece-style models see whole sentences) can be tokenized and cached
  // run by run with identical results. ignore_merges looks whole words up, so it keeps them whole.
  split_at_metaspace_runs_ = !ignore_merges_ && token_to_id_.count(std::string(kMetaspace)) > 0;
  for (auto entry = token_to_id_.begin(); split_at_metaspace_runs_ && entry != token_to_id_.end(); ++entry) {
    const std::string& token = entry->first;
    for (size_t at = token.find(kMetaspace, 1); at != std::string::npos; at = token.find(kMetaspace, at + 1))
      if (!follows_metaspace(token, at)) split_at_metaspace_runs_ = false;
  }
  if (byte_fallback_) {
    byte_fallback_ids_.assign(256, -1);
    for (int byte = 0; byte < 256; ++byte) {
      auto found = token_to_id_.find(fmt::format("<0x{:02X}>", byte));
      if (found != token_to_id_.end()) byte_fallback_ids_[byte] = found->second;
    }
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto found = token_to_id_.find(std::string(token));
  if (found == token_to_id_.end()) return std::nullopt;
  return found->second;
}

const std::string* BpeModel::id_to_token(int64_t id) const {
  if (id < 0 || id >= id_limit() || !id_present_[id]) return nullptr;
  return &id_to_token_[id];
}

int32_t BpeModel::character_id(std::string_view character, char32_t code_point) const {
  if (code_point < 0x10000) return bmp_character_ids_[code_point];
  auto found = token_to_id_.find(std::string(character));
  return found == token_to_id_.end() ? -1 : found->second;
}

void BpeModel::tokenize(const std::string& word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = token_to_id(word)) {
      ids.push_back(*id);
      return;
    }
  }
  if (!split_at_metaspace_runs_) {
    tokenize_cached(word, ids);
    return;
  }
  size_t run_start = 0;
  for (size_t at = word.find(kMetaspace, 1); at != std::string::npos; at = word.find(kMetaspace, at + 1)) {
    if (follows_metaspace(word, at)) continue;
    tokenize_cached(word.substr(run_start, at - run_start), ids);
    run_start = at;
  }
  tokenize_cached(run_start == 0 ? word : word.substr(run_start), ids);
}

void BpeModel::tokenize_cached(const std::string& word, std::vector<int32_t>& ids) const {
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto found = cache_->words.find(word);
    if (found != cache_->words.end()) {
      ids.insert(ids.end(), found->second.begin(), found->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids;
  merge_word(word, word_ids);
  ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() < kCacheCapacity) cache_->words.emplace(word, std::move(word_ids));
  }
}

struct BpeModel::Symbol {
  int32_t id;
  int32_t previous;
  int32_t next;
  bool alive;
};

std::vector<BpeModel::Symbol> BpeModel::word_symbols(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add_symbol = [&](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, true});
  };

  // Characters missing from the vocabulary become their <0xXX> byte tokens when byte_fallback has
  // them all, else the unknown token (consecutive ones fused into one with fuse_unk), else nothing.
  bool unk_pending = false;
  size_t length = 0;
  for (size_t i = 0; i < word.size(); i += length) {
    const char32_t code_point = code_point_at(word, i, length);
    const int32_t id = character_id(word.substr(i, length), code_point);
    if (id >= 0) {
      if (unk_pending) add_symbol(*unk_id_);
      unk_pending = false;
      add_symbol(id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes = true;
      for (size_t k = 0; k < length; ++k)
        all_bytes = all_bytes && byte_fallback_ids_[static_cast<unsigned char>(word[i + k])] >= 0;
      if (all_bytes) {
        if (unk_pending) add_symbol(*unk_id_);
        unk_pending = false;
        for (size_t k = 0; k < length; ++k) add_symbol(byte_fallback_ids_[static_cast<unsigned char>(word[i + k])]);
        continue;
      }
    }
    if (!unk_id_) continue;
    if (unk_pending && !fuse_unk_) add_symbol(*unk_id_);
    unk_pending = true;
  }
  if (unk_pending) add_symbol(*unk_id_);
  if (!symbols.empty()) symbols.back().next = -1;
  return symbols;
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  std::vector<Symbol> symbols = word_symbols(word);
  if (symbols.empty()) return;

  struct Candidate {
    int32_t rank;
    int32_t position;
    int32_t new_id;
    bool operator<(const Candidate& other) const {  // the queue's top is the lowest rank, then leftmost
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t position) {
    const Symbol& left = symbols[position];
    if (left.next < 0) return;
    if (const Merge* merge = merges_.find(left.id, symbols[left.next].id))
      queue.push({merge->rank, position, merge->new_id});
  };
  for (int32_t position = 0; position + 1 < static_cast<int32_t>(symbols.size()); ++position) consider(position);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (!left.alive || left.next < 0) continue;
    // A stale candidate: the pair at this position changed since it was queued.
    const Merge* current = merges_.find(left.id, symbols[left.next].id);
    if (!current || current->new_id != top.new_id) continue;
    Symbol& right = symbols[left.next];
    right.alive = false;
    left.id = top.new_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].previous = top.position;
    if (left.previous >= 0) consider(left.previous);
    consider(top.position);
  }
  for (int32_t position = 0; position >= 0; position = symbols[position].next) ids.push_back(symbols[position].id);
}

}  // namespace qtalign::tokenizer
