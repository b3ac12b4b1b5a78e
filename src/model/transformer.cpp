// The decoder forward pass, following Hugging Face's Qwen2/Llama/Mistral modeling code:
// embed -> [RMSNorm -> attention (RoPE, GQA) -> residual -> RMSNorm -> SwiGLU MLP -> residual] x L -> RMSNorm.
#include "model/transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "io/error.h"
#include "model/seed_mix.h"

namespace qtalign::model {
namespace {

// RMSNorm in fp32, scaled by the weight in the input dtype, as Hugging Face computes it.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normalized = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normalized.to(x.scalar_type());
}

// The column blocks of a forward pass (ForwardInput::block_lengths) and, when training, where each
// block's dropout masks come from.
struct PassBlocks {
  std::vector<int64_t> starts;
  std::vector<int64_t> lengths;
  std::vector<int64_t> rows;  // up to the last row holding a real token: the batch the block was made from
  bool training = false;
  const std::vector<uint64_t>* dropout_seeds = nullptr;  // one per block, or empty
  // LoRA dropout masks drawn so far in this pass: with the block's seed, it seeds the next mask.
  mutable uint64_t dropout_draws = 0;

  bool several() const { return lengths.size() > 1; }
};

// x * bernoulli(1 - p) / (1 - p), as at::dropout computes it. Each block's mask is drawn over the
// block's own rows (rows below them are padding and keep their values) after reseeding the device's
// default generator from the block's seed and the mask's place in the pass, so it is the mask a pass
// of that block alone would draw. (Reseeding, not a generator per block: libtorch 1.13's
// Generator::clone never frees the clone.) x: [batch, tokens, in].
at::Tensor lora_dropout(const at::Tensor& x, double p, const PassBlocks& blocks) {
  const uint64_t draw = blocks.dropout_draws++;
  std::vector<at::Tensor> masks;
  for (size_t b = 0; b < blocks.lengths.size(); ++b) {
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes[1] = blocks.lengths[b];
    sizes[0] = blocks.rows[b];
    if (!blocks.dropout_seeds->empty()) {
      at::Generator generator = at::globalContext().defaultGenerator(x.device());
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_current_seed(mix_seed(mix_seed((*blocks.dropout_seeds)[b]) + draw));
    }
    at::Tensor mask = at::empty(sizes, x.options());
    mask.bernoulli_(1.0 - p);
    mask.div_(1.0 - p);
    if (blocks.rows[b] < x.size(0)) {
      sizes[0] = x.size(0) - blocks.rows[b];
      mask = at::cat({mask, at::ones(sizes, x.options())}, 0);
    }
    masks.push_back(mask);
  }
  return x * (masks.size() == 1 ? masks.front() : at::cat(masks, 1));
}

// x W^T + b (W dense, or 4-bit and dequantized in x's dtype as bitsandbytes computes), plus the LoRA
// update scale * B(A(dropout(x))) computed in the adapter's dtype (as PEFT does).
at::Tensor linear(const Linear& layer, const at::Tensor& x, const PassBlocks& blocks) {
  at::Tensor y = layer.quantized ? quantized_linear(x, *layer.quantized, layer.bias)
                                 : at::linear(x, layer.weight, layer.bias);
  if (layer.lora) {
    const LoraWeights& lora = *layer.lora;
    at::Tensor lora_input = x.to(lora.a.scalar_type());
    if (blocks.training && lora.dropout > 0) lora_input = lora_dropout(lora_input, lora.dropout, blocks);
    const at::Tensor update = at::linear(at::linear(lora_input, lora.a), lora.b) * lora.scale;
    y = y + update.to(y.scalar_type());
  }
  return y;
}

// cos and sin of the rotary angles for integer positions [batch, tokens] -> [batch, 1, tokens, head_dim].
std::pair<at::Tensor, at::Tensor> rotary_tables(const at::Tensor& positions, int64_t head_dim, double theta,
                                                at::ScalarType dtype) {
  const auto float_options = at::TensorOptions().dtype(at::kFloat).device(positions.device());
  const at::Tensor exponents = at::arange(0, head_dim, 2, float_options) / static_cast<double>(head_dim);
  const at::Tensor inverse_frequencies = at::pow(theta, exponents).reciprocal();
  const at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * inverse_frequencies;  // [B, T, d/2]
  const at::Tensor doubled = at::cat({angles, angles}, -1).unsqueeze(1);                    // [B, 1, T, d]
  return {doubled.cos().to(dtype), doubled.sin().to(dtype)};
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// An additive mask [batch, 1, tokens, total]: 0 where query t may see key s (s is real and not in
// its future), the lowest float elsewhere (not -inf, so padding rows stay finite as in HF).
at::Tensor attention_bias(const at::Tensor& full_mask, int64_t past_length, int64_t tokens) {
  const int64_t total = full_mask.size(1);
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(full_mask.device());
  const at::Tensor query_index = at::arange(past_length, past_length + tokens, long_options).unsqueeze(1);
  const at::Tensor key_index = at::arange(0, total, long_options).unsqueeze(0);
  const at::Tensor causal = key_index.le(query_index);                                 // [T, S]
  const at::Tensor allowed = causal.unsqueeze(0) & full_mask.to(at::kBool).unsqueeze(1);  // [B, T, S]
  at::Tensor bias = at::zeros(allowed.sizes(), full_mask.options().dtype(at::kFloat));
  bias.masked_fill_(allowed.logical_not(), std::numeric_limits<float>::lowest());
  return bias.unsqueeze(1);
}

// Broadcasts a batch-1 cache tensor to `batch` rows (a view; no copy until concatenated).
at::Tensor with_batch(const at::Tensor& tensor, int64_t batch) {
  if (tensor.size(0) == batch) return tensor;
  std::vector<int64_t> sizes = tensor.sizes().vec();
  sizes[0] = batch;
  return tensor.expand(sizes);
}

struct AttentionResult {
  at::Tensor output;  // [B, T, hidden]
  at::Tensor keys;    // [B, kv_heads, total, head_dim], past included
  at::Tensor values;
};

// Softmax attention of q [B, heads, T, d] over k, v [B, kv_heads, S, d] with an additive bias
// [B, 1, T, S], in [B, T, heads * d]. Grouped-query attention without repeating K/V: the `group` query
// heads that share a KV head are stacked along the token axis and multiplied against that head once.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) {
  const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2), head_dim = q.size(3);
  const int64_t kv_heads = k.size(1), group = heads / kv_heads, total = k.size(2);
  const at::Tensor grouped_q = q.reshape({batch, kv_heads, group * tokens, head_dim});
  at::Tensor scores = at::matmul(grouped_q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim));
  scores = scores.view({batch, heads, tokens, total}).to(at::kFloat) + bias;
  const at::Tensor probabilities = at::softmax(scores, -1).to(q.scalar_type());
  return at::matmul(probabilities.view({batch, kv_heads, group * tokens, total}), v)
      .view({batch, heads, tokens, head_dim})
      .transpose(1, 2)
      .reshape({batch, tokens, heads * head_dim});
}

// biases: one per block of `blocks`, each [B, 1, block tokens, block keys].
AttentionResult self_attention(const ModelConfig& config, const DecoderLayer& layer, const at::Tensor& x,
                               const at::Tensor& cos, const at::Tensor& sin, const std::vector<at::Tensor>& biases,
                               const at::Tensor& past_keys, const at::Tensor& past_values, const PassBlocks& blocks) {
  const int64_t batch = x.size(0), tokens = x.size(1), head_dim = config.head_dim;
  const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;

  at::Tensor q = linear(layer.q_proj, x, blocks).view({batch, tokens, heads, head_dim}).transpose(1, 2);
  at::Tensor k = linear(layer.k_proj, x, blocks).view({batch, tokens, kv_heads, head_dim}).transpose(1, 2);
  at::Tensor v = linear(layer.v_proj, x, blocks).view({batch, tokens, kv_heads, head_dim}).transpose(1, 2);
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  if (past_keys.defined()) {
    k = at::cat({with_batch(past_keys, batch), k}, 2);
    v = at::cat({with_batch(past_values, batch), v}, 2);
  }
  at::Tensor context;
  if (!blocks.several()) {
    context = attend(q, k, v, biases.front());
  } else {
    std::vector<at::Tensor> parts;
    for (size_t b = 0; b < blocks.lengths.size(); ++b) {
      const int64_t start = blocks.starts[b], length = blocks.lengths[b];
      parts.push_back(attend(q.narrow(2, start, length), k.narrow(2, start, length), v.narrow(2, start, length),
                             biases[b]));
    }
    context = at::cat(parts, 1);
  }
  return {linear(layer.o_proj, context, blocks), k, v};
}

at::Tensor swiglu_mlp(const DecoderLayer& layer, const at::Tensor& x, const PassBlocks& blocks) {
  const at::Tensor gate = at::silu(linear(layer.gate_proj, x, blocks));
  return linear(layer.down_proj, gate * linear(layer.up_proj, x, blocks), blocks);
}

void check_input(const Model& model, const ForwardInput& input) {
  const ModelConfig& config = model.config;
  if (!input.input_ids.defined() || input.input_ids.dim() != 2)
    throw Error("forward: input_ids must be a [batch, tokens] tensor");
  const int64_t batch = input.input_ids.size(0);
  if (input.attention_mask.defined() && input.attention_mask.sizes() != input.input_ids.sizes())
    throw Error("forward: attention_mask must have the shape of input_ids");
  if (input.past && input.past->length() > 0 && input.past->batch_size() != 1 &&
      input.past->batch_size() != batch)
    throw Error(fmt::format("forward: a cache of batch {} cannot serve a batch of {}", input.past->batch_size(), batch));
  if (!input.block_lengths.empty()) {
    int64_t covered = 0;
    for (const int64_t length : input.block_lengths) {
      if (length < 1) throw Error("forward: every block must span at least one token");
      covered += length;
    }
    if (covered != input.input_ids.size(1))
      throw Error(fmt::format("forward: blocks span {} tokens of {}", covered, input.input_ids.size(1)));
    if (input.past && input.past->length() > 0) throw Error("forward: blocks cannot follow a cache");
  }
  const int64_t total = input.input_ids.size(1) + (input.past ? input.past->length() : 0);
  if (config.max_position_embeddings > 0 && total > config.max_position_embeddings)
    throw Error(fmt::format("sequence of {} tokens exceeds the model's context of {} tokens", total,
                            config.max_position_embeddings));
  if (config.sliding_window && total > *config.sliding_window)
    throw Error(fmt::format("sequence of {} tokens exceeds the sliding window of {} tokens, which qtalign "
                            "does not implement",
                            total, *config.sliding_window));
}

}  // namespace

ForwardOutput forward(const Model& model, const ForwardInput& input, const ForwardOptions& options) {
  check_input(model, input);
  const ModelConfig& config = model.config;
  const at::Tensor ids = input.input_ids.to(model.device(), at::kLong);
  const int64_t batch = ids.size(0), tokens = ids.size(1);
  const bool has_past = input.past && input.past->length() > 0;
  const int64_t past_length = has_past ? input.past->length() : 0;

  // The mask over past and current tokens decides both what is attended and each token's position.
  const auto long_options = ids.options();
  const at::Tensor current_mask = input.attention_mask.defined()
                                      ? input.attention_mask.to(model.device(), at::kLong)
                                      : at::ones({batch, tokens}, long_options);
  at::Tensor full_mask = current_mask;
  if (has_past) {
    const at::Tensor past_mask = input.past->attention_mask.defined()
                                     ? input.past->attention_mask.to(model.device(), at::kLong)
                                     : at::ones({input.past->batch_size(), past_length}, long_options);
    full_mask = at::cat({with_batch(past_mask, batch), current_mask}, 1);
  }
  PassBlocks blocks;
  blocks.training = options.training;
  blocks.dropout_seeds = &options.dropout_seeds;
  blocks.lengths = input.block_lengths.empty() ? std::vector<int64_t>{tokens} : input.block_lengths;
  if (options.return_cache && blocks.several())
    throw Error("forward: a pass of several blocks has no cache to return (its keys mix the blocks)");
  if (!options.dropout_seeds.empty() && options.dropout_seeds.size() != blocks.lengths.size())
    throw Error(fmt::format("forward: {} dropout seeds for {} blocks", options.dropout_seeds.size(),
                            blocks.lengths.size()));
  std::vector<at::Tensor> block_positions, biases;
  int64_t start = 0;
  for (const int64_t length : blocks.lengths) {
    blocks.starts.push_back(start);
    const at::Tensor block_mask = blocks.several() ? full_mask.narrow(1, start, length) : full_mask;
    block_positions.push_back((block_mask.cumsum(1) - 1).clamp_min(0).narrow(1, past_length, length));
    biases.push_back(attention_bias(block_mask, past_length, length));
    if (blocks.several()) {
      const at::Tensor real_rows = block_mask.any(1).nonzero();
      blocks.rows.push_back(real_rows.numel() == 0 ? batch : real_rows.max().item<int64_t>() + 1);
    } else {
      blocks.rows.push_back(batch);
    }
    start += length;
  }
  const at::Tensor positions = blocks.several() ? at::cat(block_positions, 1) : block_positions.front();
  const auto [cos, sin] = rotary_tables(positions, config.head_dim, config.rope_theta, model.dtype());

  ForwardOutput output;
  at::Tensor x = at::embedding(model.embed_tokens, ids);
  if (options.capture_hidden_states) output.hidden_states.push_back(x);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const DecoderLayer& layer = model.layers[i];
    const at::Tensor past_keys = has_past ? input.past->keys[i] : at::Tensor();
    const at::Tensor past_values = has_past ? input.past->values[i] : at::Tensor();
    AttentionResult attention =
        self_attention(config, layer, rms_norm(x, layer.input_layernorm, config.rms_norm_eps), cos, sin, biases,
                       past_keys, past_values, blocks);
    x = x + attention.output;
    x = x + swiglu_mlp(layer, rms_norm(x, layer.post_attention_layernorm, config.rms_norm_eps), blocks);
    if (options.capture_hidden_states) output.hidden_states.push_back(x);
    if (options.return_cache) {
      output.cache.keys.push_back(std::move(attention.keys));
      output.cache.values.push_back(std::move(attention.values));
    }
  }
  if (options.return_cache) output.cache.attention_mask = full_mask;
  output.final_hidden = final_norm(model, x);
  return output;
}

at::Tensor final_norm(const Model& model, const at::Tensor& hidden) {
  return rms_norm(hidden, model.norm, model.config.rms_norm_eps);
}

at::Tensor logits(const Model& model, const at::Tensor& final_hidden) {
  return at::linear(final_hidden.to(model.dtype()), model.lm_head).to(at::kFloat);
}

}  // namespace qtalign::model
