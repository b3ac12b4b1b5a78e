#pragma once
// The forward pass of the decoder-only transformer (qwen2 / llama / mistral / qwen3 / gemma2 / gemma3_text).
#include <ATen/ATen.h>

#include <vector>

#include "model/model.h"

namespace qtalign::model {

// Keys and values of already-processed tokens, per layer: [batch, kv_heads, length, head_dim].
// A cache of batch 1 (e.g. a shared few-shot prefix) can serve a batch of any size.
struct KVCache {
  std::vector<at::Tensor> keys;
  std::vector<at::Tensor> values;
  at::Tensor attention_mask;  // [batch, length], 1 = real token, 0 = padding
  int64_t length() const { return keys.empty() ? 0 : keys.front().size(2); }
  int64_t batch_size() const { return keys.empty() ? 0 : keys.front().size(0); }
};

struct ForwardInput {
  at::Tensor input_ids;       // [batch, tokens] int64
  at::Tensor attention_mask;  // [batch, tokens] 1/0 (padding left or right); undefined = all ones
  const KVCache* past = nullptr;  // tokens before input_ids (batch 1 or `batch`)
  // Independent batches side by side along the token axis (training runs several micro-batches in one
  // pass this way): block b spans block_lengths[b] columns, its tokens attend only within the block and
  // count their positions from its start; a block's batch ends at its last row holding a real token
  // (the rows below are padding). Empty = one block. Not with `past` or ForwardOptions::return_cache.
  std::vector<int64_t> block_lengths;
};

struct ForwardOptions {
  bool capture_hidden_states = false;  // fill ForwardOutput::hidden_states
  bool return_cache = false;           // fill ForwardOutput::cache (past + these tokens)
  bool training = false;               // LoRA dropout active
  // When training: block b's dropout masks are drawn from the device's default generator reseeded
  // from (dropout_seeds[b], the LoRA layer's place in the pass), one seed per block, so they are the
  // masks the block would get in a pass of its own; empty = the default generator as it stands.
  std::vector<uint64_t> dropout_seeds;
};

struct ForwardOutput {
  // After the final RMSNorm: [batch, tokens, hidden]. Feed to logits() at the positions you need.
  at::Tensor final_hidden;
  // When captured: num_hidden_layers + 1 residual-stream tensors [batch, tokens, hidden]; entry 0 is the
  // embedding output and entry i the output of layer i, all before the final norm. (Hugging Face's
  // output_hidden_states differs only in its last entry, which it returns after the final norm.)
  std::vector<at::Tensor> hidden_states;
  KVCache cache;
};

// Runs the decoder over input_ids (after `past`, if given). Positions follow the attention mask:
// the position of a token is the number of real tokens before it, as Hugging Face computes it for
// padded batches; padding tokens are never attended to.
ForwardOutput forward(const Model& model, const ForwardInput& input, const ForwardOptions& options = {});

// Applies the final RMSNorm (the family's own: Gemma scales by 1 + w) to residual-stream states (for the
// logit lens).
at::Tensor final_norm(const Model& model, const at::Tensor& hidden);

// Projects final hidden states [..., hidden] to vocabulary logits [..., vocab] in fp32, soft-capped where
// the family caps them (Gemma 2).
at::Tensor logits(const Model& model, const at::Tensor& final_hidden);

}  // namespace qtalign::model
