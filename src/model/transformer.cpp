// The decoder forward pass, following Hugging Face's Qwen2/Llama/Mistral modeling code:
// embed -> [RMSNorm -> attention (RoPE, GQA) -> residual -> RMSNorm -> SwiGLU MLP -> residual] x L -> RMSNorm.
#include "model/transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "io/error.h"

namespace qtalign::model {
namespace {

// RMSNorm in fp32, scaled by the weight in the input dtype, as Hugging Face computes it.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normalized = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normalized.to(x.scalar_type());
}

// x W^T + b (W dense, or 4-bit and dequantized in x's dtype as bitsandbytes computes), plus the LoRA
// update scale * B(A(dropout(x))) computed in the adapter's dtype (as PEFT does).
at::Tensor linear(const Linear& layer, const at::Tensor& x, bool training) {
  at::Tensor y = layer.quantized ? quantized_linear(x, *layer.quantized, layer.bias)
                                 : at::linear(x, layer.weight, layer.bias);
  if (layer.lora) {
    const LoraWeights& lora = *layer.lora;
    at::Tensor lora_input = x.to(lora.a.scalar_type());
    if (training && lora.dropout > 0) lora_input = at::dropout(lora_input, lora.dropout, /*train=*/true);
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

AttentionResult self_attention(const ModelConfig& config, const DecoderLayer& layer, const at::Tensor& x,
                               const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& bias,
                               const at::Tensor& past_keys, const at::Tensor& past_values, bool training) {
  const int64_t batch = x.size(0), tokens = x.size(1), head_dim = config.head_dim;
  const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;
  const int64_t group = heads / kv_heads;

  at::Tensor q = linear(layer.q_proj, x, training).view({batch, tokens, heads, head_dim}).transpose(1, 2);
  at::Tensor k = linear(layer.k_proj, x, training).view({batch, tokens, kv_heads, head_dim}).transpose(1, 2);
  at::Tensor v = linear(layer.v_proj, x, training).view({batch, tokens, kv_heads, head_dim}).transpose(1, 2);
  q = apply_rotary(q, cos, sin);
  k = apply_rotary(k, cos, sin);
  if (past_keys.defined()) {
    k = at::cat({with_batch(past_keys, batch), k}, 2);
    v = at::cat({with_batch(past_values, batch), v}, 2);
  }
  const int64_t total = k.size(2);

  // Grouped-query attention without repeating K/V: the `group` query heads that share a KV head
  // are stacked along the token axis and multiplied against that head once.
  const at::Tensor grouped_q = q.reshape({batch, kv_heads, group * tokens, head_dim});
  at::Tensor scores = at::matmul(grouped_q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim));
  scores = scores.view({batch, heads, tokens, total}).to(at::kFloat) + bias;
  const at::Tensor probabilities = at::softmax(scores, -1).to(q.scalar_type());
  const at::Tensor context =
      at::matmul(probabilities.view({batch, kv_heads, group * tokens, total}), v)
          .view({batch, heads, tokens, head_dim})
          .transpose(1, 2)
          .reshape({batch, tokens, heads * head_dim});
  return {linear(layer.o_proj, context, training), k, v};
}

at::Tensor swiglu_mlp(const DecoderLayer& layer, const at::Tensor& x, bool training) {
  const at::Tensor gate = at::silu(linear(layer.gate_proj, x, training));
  return linear(layer.down_proj, gate * linear(layer.up_proj, x, training), training);
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
  const at::Tensor positions = (full_mask.cumsum(1) - 1).clamp_min(0).narrow(1, past_length, tokens);
  const auto [cos, sin] = rotary_tables(positions, config.head_dim, config.rope_theta, model.dtype());
  const at::Tensor bias = attention_bias(full_mask, past_length, tokens);

  ForwardOutput output;
  at::Tensor x = at::embedding(model.embed_tokens, ids);
  if (options.capture_hidden_states) output.hidden_states.push_back(x);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const DecoderLayer& layer = model.layers[i];
    const at::Tensor past_keys = has_past ? input.past->keys[i] : at::Tensor();
    const at::Tensor past_values = has_past ? input.past->values[i] : at::Tensor();
    AttentionResult attention =
        self_attention(config, layer, rms_norm(x, layer.input_layernorm, config.rms_norm_eps), cos, sin, bias,
                       past_keys, past_values, options.training);
    x = x + attention.output;
    x = x + swiglu_mlp(layer, rms_norm(x, layer.post_attention_layernorm, config.rms_norm_eps), options.training);
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
