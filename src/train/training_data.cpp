#include "train/training_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/error.h"

namespace qtalign::train {

PromptTemplate parse_prompt_template(const std::string& name) {
  if (name == "plain") return PromptTemplate::plain;
  if (name == "chatml") return PromptTemplate::chatml;
  throw Error(fmt::format("unknown prompt template '{}' (valid: plain, chatml)", name));
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
                                  const TextExample& example, std::optional<int64_t> eos_id) {
  const auto [prompt, target] = apply_prompt_template(prompt_template, example);
  TokenizedExample tokenized;
  tokenized.input_ids = tokenizer.encode(prompt);
  tokenized.prompt_length = static_cast<int64_t>(tokenized.input_ids.size());
  const std::vector<int64_t> target_ids = tokenizer.encode(target);
  tokenized.input_ids.insert(tokenized.input_ids.end(), target_ids.begin(), target_ids.end());
  if (prompt_template == PromptTemplate::plain && eos_id) tokenized.input_ids.push_back(*eos_id);
  return tokenized;
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
