#pragma once
// Greedy decoding with the KV cache: the prompt in one pass, then one token per step.
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace qtalign::model {

struct GenerationOptions {
  int64_t max_new_tokens = 64;
  std::vector<int64_t> stop_ids;  // generation ends when the model picks one of these (not returned)
};

// Greedily continues `prompt` (non-empty; throws Error otherwise), calling on_token for each new id as
// it is chosen; stops at a stop id, after max_new_tokens, or when the model's context (or sliding
// window) is full. Returns the new ids.
std::vector<int64_t> generate_greedy(const Model& model, const std::vector<int64_t>& prompt,
                                     const GenerationOptions& options,
                                     const std::function<void(int64_t)>& on_token = {});

}  // namespace qtalign::model
