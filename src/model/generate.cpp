#include "model/generate.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <string_view>

#include "io/error.h"
#include "io/input_path.h"
#include "io/json_file.h"
#include "model/finite.h"
#include "model/transformer.h"

namespace qtalign::model {
namespace {

void add_stop_id(std::vector<int64_t>& stop_ids, std::optional<int64_t> id) {
  if (id && std::find(stop_ids.begin(), stop_ids.end(), *id) == stop_ids.end()) stop_ids.push_back(*id);
}

// The longest sequence the forward pass accepts for this model (dynamic NTK scaling runs past the context).
int64_t context_limit(const ModelConfig& config) {
  if (config.max_position_embeddings <= 0 || config.rope_scaling.type == "dynamic") return INT64_MAX;
  return config.max_position_embeddings;
}

int64_t greedy_choice(const Model& model, const ForwardOutput& output, size_t step) {
  const at::Tensor last = output.final_hidden.select(1, output.final_hidden.size(1) - 1);
  const at::Tensor scores = logits(model, last);
  require_finite(scores, "generate: the logits of new token " + std::to_string(step + 1));
  return scores.argmax(-1).item<int64_t>();
}

}  // namespace

std::vector<int64_t> generate_greedy(const Model& model, const std::vector<int64_t>& prompt,
                                     const GenerationOptions& options, const std::function<void(int64_t)>& on_token,
                                     StopReason* stop) {
  if (prompt.empty()) throw Error("generate: the prompt has no tokens");
  StopReason ignored;
  StopReason& reason = stop ? *stop : ignored;
  reason = StopReason::max_new_tokens;
  c10::InferenceMode inference;
  const auto as_batch = [&](const std::vector<int64_t>& ids) {
    return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())}).to(model.device());
  };
  ForwardOptions forward_options;
  forward_options.return_cache = true;
  ForwardInput input;
  input.input_ids = as_batch(prompt);
  ForwardOutput output = forward(model, input, forward_options);

  const int64_t limit = context_limit(model.config);
  std::vector<int64_t> generated;
  while (static_cast<int64_t>(generated.size()) < options.max_new_tokens) {
    const int64_t next = greedy_choice(model, output, generated.size());
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) {
      reason = StopReason::stop_id;
      break;
    }
    generated.push_back(next);
    if (on_token) on_token(next);
    if (static_cast<int64_t>(generated.size()) == options.max_new_tokens) break;
    if (static_cast<int64_t>(prompt.size() + generated.size()) >= limit) {
      reason = StopReason::context_full;
      break;
    }
    input.input_ids = as_batch({next});
    input.past = &output.cache;
    output = forward(model, input, forward_options);
  }
  return generated;
}

std::string TextStream::add(int64_t id) {
  ids_.push_back(id);
  const std::string text = decode_(ids_);
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  const bool incomplete = text.size() >= kReplacement.size() &&
                          text.compare(text.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0;
  return incomplete ? std::string() : take_new(text);
}

std::string TextStream::finish() { return take_new(decode_(ids_)); }

// Only an extension of what was shown can be shown; anything else waits for one that is.
std::string TextStream::take_new(const std::string& text) {
  if (text.size() <= shown_.size() || text.compare(0, shown_.size(), shown_) != 0) return "";
  std::string added = text.substr(shown_.size());
  shown_ = text;
  return added;
}

std::vector<int64_t> generation_stop_ids(const std::filesystem::path& model_dir, const ModelConfig& config,
                                         const tokenizer::Tokenizer& tokenizer, bool chat) {
  std::vector<int64_t> ids;
  const std::filesystem::path generation_config = model_dir / "generation_config.json";
  if (io::input_exists(generation_config)) {
    const io::Json json = io::read_json_file(generation_config);
    const io::Json eos = json.is_object() ? json.value("eos_token_id", io::Json()) : io::Json();
    for (const auto& id : eos.is_array() ? eos : io::Json::array({eos}))
      if (id.is_number_integer()) add_stop_id(ids, id.get<int64_t>());
  }
  add_stop_id(ids, config.eos_token_id);
  add_stop_id(ids, tokenizer.eos_id());
  if (chat) add_stop_id(ids, tokenizer.token_to_id("<|im_end|>"));
  return ids;
}

}  // namespace qtalign::model
