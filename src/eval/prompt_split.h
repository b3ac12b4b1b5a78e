#pragma once
// Splitting tokenized prompts into the shared few-shot prefix, run once and kept as a KV cache, and
// each item's continuation. The split is of token ids, never of text, so prefix + continuation is
// exactly the full prompt's encoding; prompts whose encoding does not start with the prefix's ids
// (a BPE token straddling the boundary) fall back to running whole.
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace qtalign::eval {

struct PromptSplit {
  std::vector<int64_t> prefix;                      // ids every cached prompt starts with (may be empty)
  std::vector<std::vector<int64_t>> continuations;  // per prompt: the ids after the prefix, or all its ids
  std::vector<bool> cached;                         // per prompt: whether it continues the prefix

  // Prompts that run whole although a prefix exists.
  int64_t fallbacks() const;
};

// The ids every prompt starting with `prefix_text` should start with: its encoding with special tokens
// (Llama 2's <s> included), less the last text token, which BPE may merge with what follows.
std::vector<int64_t> cacheable_prefix_ids(const tokenizer::Tokenizer& tokenizer, const std::string& prefix_text);

// Splits each prompt's ids after `prefix` when they start with it and leave at least one token;
// the others are kept whole (not cached). An empty prefix caches nothing.
PromptSplit split_prompts(const std::vector<int64_t>& prefix, const std::vector<std::vector<int64_t>>& prompts);

}  // namespace qtalign::eval
