#pragma once
// Greedy decoding with the KV cache: the prompt in one pass, then one token per step.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::model {

struct GenerationOptions {
  int64_t max_new_tokens = 64;
  std::vector<int64_t> stop_ids;  // generation ends when the model picks one of these (not returned)
};

// Why generation ended.
enum class StopReason {
  stop_id,         // the model chose a stop id
  max_new_tokens,  // max_new_tokens were generated
  context_full,    // the sequence filled max_position_embeddings
};

// Greedily continues `prompt` (non-empty; throws Error otherwise), calling on_token for each new id as
// it is chosen; stops at a stop id, after max_new_tokens, or when the model's context is full (never,
// with dynamic NTK RoPE scaling), storing why in `stop` when given. Sliding windows are attended as
// they slide. Throws Error when the logits are not finite.
// Returns the new ids.
std::vector<int64_t> generate_greedy(const Model& model, const std::vector<int64_t>& prompt,
                                     const GenerationOptions& options,
                                     const std::function<void(int64_t)>& on_token = {}, StopReason* stop = nullptr);

// Text of generated ids as they arrive, for streaming. Each id's text is what decoding all ids so far
// adds to what was already returned, so characters split across tokens come out whole; text ending
// in U+FFFD (an incomplete UTF-8 character, as tokenizers decode it) waits for the next id.
class TextStream {
 public:
  using Decode = std::function<std::string(const std::vector<int64_t>&)>;
  explicit TextStream(Decode decode) : decode_(std::move(decode)) {}

  // The text to show after `id` (possibly empty).
  std::string add(int64_t id);
  // The text still held back at the end (an incomplete character shows as U+FFFD).
  std::string finish();

 private:
  std::string take_new(const std::string& text);

  Decode decode_;
  std::vector<int64_t> ids_;
  std::string shown_;
};

// Where transformers' generate() stops for the checkpoint in `model_dir`: the eos ids of its
// generation_config.json (one or a list), the config's and the tokenizer's eos, and with `chat` the
// end-of-turn token <|im_end|>.
std::vector<int64_t> generation_stop_ids(const std::filesystem::path& model_dir, const ModelConfig& config,
                                         const tokenizer::Tokenizer& tokenizer, bool chat);

}  // namespace qtalign::model
