#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "io/error.h"
#include "io/input_path.h"
#include "io/json_file.h"
#include "io/utf8.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

// The id of tokenizer_config.json's `key` ("<s>", {"content": "<s>", ...} or null).
std::optional<int64_t> config_token_id(const Json& config, const char* key, const std::filesystem::path& config_file,
                                       const std::function<std::optional<int64_t>(std::string_view)>& lookup) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return std::nullopt;
  const Json* content = &*found;
  if (found->is_object()) {
    auto inner = found->find("content");
    if (inner == found->end()) fail_at(config_file, std::string("'") + key + "' has no 'content'");
    content = &*inner;
  }
  if (!content->is_string()) fail_at(config_file, std::string("'") + key + "' must be a string, an object or null");
  auto id = lookup(content->get<std::string>());
  if (!id) fail_at(config_file, std::string("'") + key + "' " + content->dump() + " is not in the tokenizer's vocabulary");
  return id;
}

// transformers' clean_up_tokenization: the spaces a word-level detokenizer once left before
// punctuation and English contractions, removed one pattern after the other.
std::string clean_up_tokenization_spaces(std::string text) {
  static const std::pair<std::string_view, std::string_view> kReplacements[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kReplacements) {
    std::string out;
    size_t copied = 0;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, copied)) {
      out.append(text, copied, at - copied).append(to);
      copied = at + from.size();
    }
    if (copied == 0) continue;
    out.append(text, copied, std::string::npos);
    text = std::move(out);
  }
  return text;
}

}  // namespace

struct Tokenizer::Impl {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel model;
  AddedVocabulary added;
  PostProcessor post_processor;
  Decoder decoder;
  std::optional<int64_t> bos_id;
  std::optional<int64_t> eos_id;
  bool clean_up_spaces = true;

  std::optional<int64_t> token_to_id(std::string_view token) const {
    if (const AddedToken* added_token = added.find_content(token)) return added_token->id;
    if (auto id = model.token_to_id(token)) return *id;
    return std::nullopt;
  }

  // Normalized text between added tokens (normalized=true tokens still to be found) -> ids.
  void encode_normalized(std::string_view text, bool at_text_start, std::vector<int64_t>& ids) const {
    std::vector<std::string> words;
    std::vector<int32_t> word_ids;
    auto encode_piece = [&](std::string_view piece, bool at_start) {
      words.clear();
      pre_tokenizer.split(piece, at_start, words);
      for (const std::string& word : words) {
        word_ids.clear();
        model.tokenize(word, word_ids);
        ids.insert(ids.end(), word_ids.begin(), word_ids.end());
      }
    };
    if (!added.has_normalized_tokens()) {
      encode_piece(text, at_text_start);
      return;
    }
    for (const TextSegment& segment : added.split(text, true)) {
      if (segment.token_index) ids.push_back(added.tokens()[*segment.token_index].id);
      else if (segment.end > segment.begin)
        encode_piece(text.substr(segment.begin, segment.end - segment.begin), at_text_start && segment.begin == 0);
    }
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  io::require_file(tokenizer_json, "");
  const Json root = io::read_json_file(tokenizer_json);
  if (!root.is_object()) fail_at(tokenizer_json, "expected a JSON object");
  auto model = root.find("model");
  if (model == root.end() || model->is_null()) fail_at(tokenizer_json, "missing field 'model'");
  auto field = [&](const char* key) { return root.contains(key) ? root[key] : Json(); };

  // truncation and padding are settings for batches, which Hugging Face's encode of one text
  // ignores unless asked; they are ignored here too.
  auto impl = std::make_unique<Impl>(Impl{Normalizer::from_json(field("normalizer"), tokenizer_json),
                                          PreTokenizer::from_json(field("pre_tokenizer"), tokenizer_json),
                                          BpeModel::from_json(*model, tokenizer_json),
                                          AddedVocabulary::from_json(field("added_tokens"), tokenizer_json),
                                          PostProcessor::from_json(field("post_processor"), tokenizer_json),
                                          Decoder::from_json(field("decoder"), tokenizer_json),
                                          std::nullopt,
                                          std::nullopt,
                                          true});

  // Roles of special tokens are not in tokenizer.json; transformers reads them from the
  // tokenizer_config.json beside it.
  const std::filesystem::path config_file = tokenizer_json.parent_path() / "tokenizer_config.json";
  if (io::input_exists(config_file)) {
    const Json config = io::read_json_file(config_file);
    if (!config.is_object()) fail_at(config_file, "expected a JSON object");
    const Impl& view = *impl;
    auto lookup = [&view](std::string_view token) { return view.token_to_id(token); };
    impl->bos_id = config_token_id(config, "bos_token", config_file, lookup);
    impl->eos_id = config_token_id(config, "eos_token", config_file, lookup);
    if (auto clean_up = config.find("clean_up_tokenization_spaces"); clean_up != config.end() && !clean_up->is_null()) {
      if (!clean_up->is_boolean()) fail_at(config_file, "'clean_up_tokenization_spaces' must be true or false");
      impl->clean_up_spaces = clean_up->get<bool>();
    }
  }
  return Tokenizer(std::move(impl));
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (auto invalid = io::find_invalid_utf8(text))
    throw Error(fmt::format("text to tokenize is not valid UTF-8: byte 0x{:02X} at offset {} starts no valid sequence",
                            static_cast<unsigned char>(text[*invalid]), *invalid));
  std::vector<int64_t> ids;
  for (const TextSegment& segment : impl_->added.split(text, false)) {
    if (segment.token_index) {
      ids.push_back(impl_->added.tokens()[*segment.token_index].id);
      continue;
    }
    if (segment.end == segment.begin) continue;
    const std::string normalized = impl_->normalizer.normalize(text.substr(segment.begin, segment.end - segment.begin));
    if (!normalized.empty()) impl_->encode_normalized(normalized, segment.begin == 0, ids);
  }
  return add_special_tokens ? impl_->post_processor.add_special_tokens(ids) : ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens,
                              std::optional<bool> clean_up_spaces) const {
  // Ids without a token are skipped, as Hugging Face does (models often have padded embeddings).
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (const AddedToken* added_token = impl_->added.find_id(id)) {
      if (!(skip_special_tokens && added_token->special)) tokens.push_back(added_token->content);
    } else if (const std::string* token = impl_->model.id_to_token(id)) {
      tokens.push_back(*token);
    }
  }
  std::string text = impl_->decoder.decode(std::move(tokens));
  return clean_up_spaces.value_or(impl_->clean_up_spaces) ? clean_up_tokenization_spaces(std::move(text)) : text;
}

const std::string& Tokenizer::id_to_token(int64_t id) const {
  if (const AddedToken* added_token = impl_->added.find_id(id)) return added_token->content;
  if (const std::string* token = impl_->model.id_to_token(id)) return *token;
  throw Error(fmt::format("token id {} is not in the tokenizer's vocabulary (ids 0..{})", id, vocab_size() - 1));
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const { return impl_->token_to_id(token); }

int64_t Tokenizer::vocab_size() const {
  int64_t limit = impl_->model.id_limit();
  for (const AddedToken& token : impl_->added.tokens()) limit = std::max(limit, token.id + 1);
  return limit;
}

bool Tokenizer::is_byte_level() const { return impl_->pre_tokenizer.is_byte_level(); }
std::optional<int64_t> Tokenizer::bos_id() const { return impl_->bos_id; }
std::optional<int64_t> Tokenizer::eos_id() const { return impl_->eos_id; }

std::filesystem::path tokenizer_json_file(const std::filesystem::path& given) {
  return io::input_exists(given) && std::filesystem::is_directory(given) ? given / "tokenizer.json" : given;
}

}  // namespace qtalign::tokenizer
