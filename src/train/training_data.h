#pragma once
// Training examples for LoRA tuning: (input, target) text pairs put in a prompt template,
// tokenized, cut to the cutoff length, and split into training and validation sets.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace qtalign::train {

enum class PromptTemplate {
  plain,   // input + target + eos
  chatml,  // "<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n" + target + "<|im_end|>"
};

// Parses "plain" | "chatml"; throws Error otherwise.
PromptTemplate parse_prompt_template(const std::string& name);

// The name parse_prompt_template reads: "plain" or "chatml".
std::string prompt_template_name(PromptTemplate prompt_template);

struct TextExample {
  std::string input;   // the prompt: no loss on it
  std::string target;  // what the model learns to produce
};

// A tokenized example; the loss covers the tokens from prompt_length on (never the first token,
// which nothing predicts).
struct TokenizedExample {
  std::vector<int64_t> input_ids;
  int64_t prompt_length = 0;

  int64_t target_tokens() const {
    return std::max<int64_t>(0, static_cast<int64_t>(input_ids.size()) - std::max<int64_t>(1, prompt_length));
  }
};

// The prompt and target text of an example in a template (the eos of `plain` is added as an id).
std::pair<std::string, std::string> apply_prompt_template(PromptTemplate prompt_template, const TextExample& example);

// Tokenizes the prompt and the target separately (no token spans the boundary) and appends
// `eos_id` after a plain target when given. With max_text_bytes > 0 each text is first cut to that
// many bytes (at a character boundary), so that a huge text costs memory by the cutoff, not by its size.
TokenizedExample tokenize_example(const tokenizer::Tokenizer& tokenizer, PromptTemplate prompt_template,
                                  const TextExample& example, std::optional<int64_t> eos_id,
                                  size_t max_text_bytes = 0);

// Bytes of text that surely yield more than `cutoff` tokens when there are that many: no token
// covers more bytes than its vocabulary entry holds, with a factor of 2 for normalizers that
// shorten text. Texts cut to it tokenize to the same first `cutoff` tokens as uncut.
size_t text_bytes_for_tokens(const tokenizer::Tokenizer& tokenizer, int64_t cutoff);

// Refuses, before training, a run that cannot change the adapter, naming the numbers: fewer training
// examples than one micro-batch per process (--batch x processes), a LoRA scale of zero (alpha 0),
// or a learning-rate schedule that is 0 at every step (one step, all of it warmup).
void check_training_can_learn(int64_t train_examples, int64_t micro_batch, int64_t processes, double lora_alpha,
                              double peak_lr, int64_t warmup_steps, int64_t total_steps);

// Keeps the first `cutoff` tokens; returns whether any were cut.
bool cut_to_length(TokenizedExample& example, int64_t cutoff);

// Example indices held out for validation: ceil(ratio * count) of them, chosen by a seeded
// shuffle (sorted), leaving at least one for training; empty when ratio is 0.
std::vector<int64_t> validation_indices(int64_t count, double ratio, uint64_t seed);

}  // namespace qtalign::train
