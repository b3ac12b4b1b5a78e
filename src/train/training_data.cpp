#include "train/training_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/error.h"
#include "train/lr_schedule.h"

namespace qtalign::train {

PromptTemplate parse_prompt_template(const std::string& name) {
  if (name == "plain") return PromptTemplate::plain;
  if (name == "chatml") return PromptTemplate::chatml;
  throw Error(fmt::format("unknown prompt template '{}' (valid: plain, chatml)", name));
}

std::string prompt_template_name(PromptTemplate prompt_template) {
  return prompt_template == PromptTemplate::chatml ? "chatml" : "plain";
}

std::pair<std::string, std::string> apply_prompt_template(PromptTemplate prompt_template, const TextExample& example) {
  switch (prompt_template) {
    case PromptTemplate::plain:
      return {example.input, example.target};
    case PromptTemplate::chatml:
      return {"<|im_start|>user\n" + example.input + "<|im_end|>\n<|im_start|>assistant\n",
              example.target + "<|im_end|>"};
  }
  throw Error("unknown prompt template");
}

TokenizedExample tokenize_example(const tokenizer::Tokenizer& tokenizer, PromptTemplate prompt_template,
                                  const TextExample& example, std::optional<int64_t> eos_id, size_t max_text_bytes) {
  const auto [prompt, target] = apply_prompt_template(prompt_template, example);
  const auto cut = [&](const std::string& text) {
    if (max_text_bytes == 0 || text.size() <= max_text_bytes) return std::string_view(text);
    size_t end = max_text_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // not inside a character
    return std::string_view(text).substr(0, end);
  };
  TokenizedExample tokenized;
  tokenized.input_ids = tokenizer.encode(cut(prompt));
  tokenized.prompt_length = static_cast<int64_t>(tokenized.input_ids.size());
  const std::vector<int64_t> target_ids = tokenizer.encode(cut(target));
  tokenized.input_ids.insert(tokenized.input_ids.end(), target_ids.begin(), target_ids.end());
  if (prompt_template == PromptTemplate::plain && eos_id) tokenized.input_ids.push_back(*eos_id);
  return tokenized;
}

size_t text_bytes_for_tokens(const tokenizer::Tokenizer& tokenizer, int64_t cutoff) {
  size_t longest = 1;
  for (int64_t id = 0; id < tokenizer.vocab_size(); ++id) {
    try {
      longest = std::max(longest, tokenizer.id_to_token(id).size());
    } catch (const Error&) {
      // An id the vocabulary skips covers no text.
    }
  }
  return 2 * (static_cast<size_t>(std::max<int64_t>(cutoff, 1)) + 1) * longest;
}

void check_training_can_learn(int64_t train_examples, int64_t micro_batch, int64_t processes, double lora_alpha,
                              double peak_lr, int64_t warmup_steps, int64_t total_steps) {
  if (train_examples < micro_batch * processes)
    throw Error(fmt::format(
        "{} training example(s) are fewer than one micro-batch per process (--batch {} x {} process(es) = {}): "
        "use more data, a smaller --val-ratio, --batch or fewer processes",
        train_examples, micro_batch, processes, micro_batch * processes));
  if (!(lora_alpha > 0) || !std::isfinite(lora_alpha))
    throw Error(fmt::format("--lora-alpha {} gives the adapter a scale alpha / r that is not positive: it could not "
                            "change the model",
                            lora_alpha));
  for (int64_t step = 0; step < total_steps; ++step)
    if (cosine_with_warmup_lr(peak_lr, step, warmup_steps, total_steps) > 0) return;
  throw Error(fmt::format("the learning rate is 0 at every one of the {} step(s) ({} of them warmup, which starts at "
                          "0): nothing would be learned; use more data or --epochs, or a lower --warmup-ratio",
                          total_steps, warmup_steps));
}

bool cut_to_length(TokenizedExample& example, int64_t cutoff) {
  if (static_cast<int64_t>(example.input_ids.size()) <= cutoff) return false;
  example.input_ids.resize(cutoff);
  example.prompt_length = std::min(example.prompt_length, cutoff);
  return true;
}

std::vector<int64_t> validation_indices(int64_t count, double ratio, uint64_t seed) {
  if (ratio < 0.0 || ratio >= 1.0) throw Error(fmt::format("validation ratio must be in [0, 1), got {}", ratio));
  const int64_t held_out = std::min<int64_t>(count - 1, static_cast<int64_t>(std::ceil(ratio * double(count))));
  if (held_out <= 0) return {};
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(count, generator, at::kLong);
  std::vector<int64_t> indices(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + held_out);
  std::sort(indices.begin(), indices.end());
  return indices;
}

}  // namespace qtalign::train
