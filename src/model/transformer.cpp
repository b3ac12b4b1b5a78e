// The decoder forward pass, following Hugging Face's Qwen2/Llama/Mistral/Qwen3/Gemma2/Gemma3 modeling code:
// embed (Gemma: x sqrt(hidden)) -> [RMSNorm -> attention (q/k norms, RoPE, GQA, sliding window, soft-capping)
// (Gemma: -> RMSNorm) -> residual -> RMSNorm -> gated MLP (Gemma: -> RMSNorm) -> residual] x L -> RMSNorm
// -> lm_head (Gemma 2: -> soft-capping). Where llama.cpp and transformers differ (Gemma's norm offsets
// and soft-capping order), this follows transformers.
#include "model/transformer.h"

#include <ATen/core/grad_mode.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <tuple>

#include "io/error.h"
#include "model/dense_linear.h"
#include "model/fused_elementwise.h"
#include "model/packed_linear.h"
#include "model/seed_mix.h"

namespace qtalign::model {
namespace {

// Whether the elementwise chains of a pass over x run as fused kernels (fused_elementwise.h): in
// inference on the CPU in fp32 or bf16, for models as wide as dense_linear sends to oneDNN. The tiny test
// and demo models keep libtorch's operators, and their results bit for bit.
bool fused(const ModelConfig& config, const at::Tensor& x) {
  return config.hidden_size >= kOneDnnMinimumWidth && fused_elementwise_applies(x);
}

// RMSNorm in fp32 as Hugging Face computes it: scaled by the weight in the input dtype, or (Gemma) by
// (1 + weight) in fp32 before casting back.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, const ModelConfig& config) {
  if (fused(config, x) && weight.scalar_type() == x.scalar_type())
    return fused_rms_norm(x, weight, config.rms_norm_eps, config.norm_weight_offset);
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normalized = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + config.rms_norm_eps);
  if (config.norm_weight_offset) return (normalized * (weight.to(at::kFloat) + 1.0)).to(x.scalar_type());
  return weight * normalized.to(x.scalar_type());
}

// cap * tanh(x / cap), Gemma's soft-capping of attention scores and logits.
at::Tensor soft_cap(const at::Tensor& x, const std::optional<double>& cap) {
  return cap ? at::tanh(x / *cap) * *cap : x;
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

// x W^T + b (W dense, or 4-bit and dequantized in x's dtype as bitsandbytes computes; packed when
// pack_for_inference packed it, unpacked for the passes the packed product cannot serve), plus the LoRA update scale * B(A(dropout(x))) computed in the
// adapter's dtype (as PEFT does).
at::Tensor linear(const Linear& layer, const at::Tensor& x, const PassBlocks& blocks) {
  at::Tensor y = layer.packed && layer.packed->serves(x, layer) ? layer.packed->forward(x)
                 : layer.quantized                              ? quantized_linear(x, *layer.quantized, layer.bias)
                                                                : dense_linear(x, plain_weight(layer), layer.bias);
  if (layer.lora) {
    const LoraWeights& lora = *layer.lora;
    at::Tensor lora_input = x.to(lora.a.scalar_type());
    if (blocks.training && lora.dropout > 0) lora_input = lora_dropout(lora_input, lora.dropout, blocks);
    const at::Tensor update = at::linear(at::linear(lora_input, lora.a), lora.b) * lora.scale;
    y = y + update.to(y.scalar_type());
  }
  return y;
}

// RoPE's inverse frequencies [head_dim / 2] for a base and a scaling, as transformers' rope init
// functions compute them. seq_len (the largest position of the pass + 1) matters to dynamic NTK only,
// which raises the base once the sequence outgrows max_positions.
at::Tensor inverse_frequencies(int64_t head_dim, double theta, const RopeScaling& scaling, int64_t max_positions,
                               int64_t seq_len, at::Device device) {
  const auto float_options = at::TensorOptions().dtype(at::kFloat).device(device);
  const double dim = static_cast<double>(head_dim);
  if (scaling.type == "dynamic" && seq_len > max_positions)
    theta *= std::pow(scaling.factor * static_cast<double>(seq_len) / static_cast<double>(max_positions) -
                          (scaling.factor - 1),
                      dim / (dim - 2));
  const at::Tensor exponents = at::arange(0, head_dim, 2, float_options) / dim;
  const at::Tensor inverse = at::pow(theta, exponents).reciprocal();
  if (scaling.type == "linear") return inverse / scaling.factor;
  if (scaling.type != "llama3") return inverse;
  // Llama 3: long wavelengths slowed by `factor`, short ones kept, the band between interpolated.
  const double context = static_cast<double>(scaling.original_max_position_embeddings);
  const double low = scaling.low_freq_factor, high = scaling.high_freq_factor;
  const at::Tensor wavelength = inverse.reciprocal() * (2 * M_PI);
  const at::Tensor scaled = at::where(wavelength > context / low, inverse / scaling.factor, inverse);
  const at::Tensor smooth = (wavelength.reciprocal() * context - low) / (high - low);
  const at::Tensor smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
  const at::Tensor medium = wavelength.ge(context / high) & wavelength.le(context / low);
  return at::where(medium, smoothed, scaled);
}

// cos and sin of the rotary angles for integer positions [batch, tokens] -> [batch, 1, tokens, head_dim].
std::pair<at::Tensor, at::Tensor> rotary_tables(const at::Tensor& positions, const at::Tensor& inverse_frequencies,
                                                at::ScalarType dtype) {
  const at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * inverse_frequencies;  // [B, T, d/2]
  const at::Tensor doubled = at::cat({angles, angles}, -1).unsqueeze(1);                    // [B, 1, T, d]
  return {doubled.cos().to(dtype), doubled.sin().to(dtype)};
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// RoPE of x [B, T, heads, d] -> [B, heads, T, d].
at::Tensor apply_rotary(const ModelConfig& config, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (fused(config, x) && cos.scalar_type() == x.scalar_type()) return fused_rotary(x, cos, sin);
  const at::Tensor heads_first = x.transpose(1, 2);
  return heads_first * cos + rotate_half(heads_first) * sin;
}

// An additive mask [batch, 1, tokens, total]: 0 where query t may see key s (s is real, not in its
// future and, with a window, fewer than `window` positions before it), the lowest float elsewhere (not
// -inf, so padding rows stay finite as in HF). The window counts positions, not columns: transformers
// counts columns, which is the same wherever padding does not sit between real tokens (a left-padded
// continuation of a cached prefix), and positions keep such a row equal to its unpadded sequence.
at::Tensor attention_bias(const at::Tensor& full_mask, int64_t past_length, int64_t tokens,
                          std::optional<int64_t> window) {
  const int64_t total = full_mask.size(1);
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(full_mask.device());
  const at::Tensor query_index = at::arange(past_length, past_length + tokens, long_options).unsqueeze(1);
  const at::Tensor key_index = at::arange(0, total, long_options).unsqueeze(0);
  const at::Tensor causal = key_index.le(query_index);                                 // [T, S]
  at::Tensor allowed = causal.unsqueeze(0) & full_mask.to(at::kBool).unsqueeze(1);  // [B, T, S]
  if (window) {
    const at::Tensor key_positions = full_mask.cumsum(1) - 1;                         // [B, S]
    const at::Tensor query_positions = key_positions.narrow(1, past_length, tokens);  // [B, T]
    allowed = allowed & (query_positions.unsqueeze(2) - key_positions.unsqueeze(1)).lt(*window);
  }
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

// Whether a model's attention runs on oneDNN (batched_matmul), as its projections do (dense_linear);
// tiny models keep at::matmul.
bool wide_attention(const ModelConfig& config) {
  return config.num_attention_heads * config.head_dim >= kOneDnnMinimumWidth;
}

// softmax(scores / sqrt(scale), soft-capped, + bias) in fp32, in the scores' dtype, over scores given in
// parts along the key axis (each [B, heads, T, S_i]); the probabilities in the same parts.
std::vector<at::Tensor> attention_probabilities(const ModelConfig& config, const std::vector<at::Tensor>& scores,
                                                double scale, const at::Tensor& bias) {
  if (fused(config, scores.front()) && !config.attn_logit_softcapping)
    return fused_masked_softmax(scores, 1.0 / std::sqrt(scale), bias);
  const at::Tensor joined = scores.size() == 1 ? scores.front() : at::cat(scores, -1);
  const at::Tensor capped = soft_cap(joined / std::sqrt(scale), config.attn_logit_softcapping);
  const at::Tensor probabilities = at::softmax(capped.to(at::kFloat) + bias, -1).to(joined.scalar_type());
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (const at::Tensor& part : scores) {
    parts.push_back(probabilities.narrow(-1, start, part.size(-1)));
    start += part.size(-1);
  }
  return parts;
}

// Softmax attention of q [B, heads, T, d] over keys and values given in parts along the key axis (each
// [B, kv_heads, S_i, d], e.g. a cached prefix broadcast over the batch and the pass's own tokens) with an
// additive bias [B, 1, T, sum S_i], in [B, T, heads * d]. Grouped-query attention without repeating
// K/V: the `group` query heads that share a KV head are stacked along the token axis and multiplied
// against that head once. No part is copied: each part's scores are a product of their own, the softmax
// runs over the parts together, and the context sums each part's values weighted by its probabilities
// (batched_matmul_sum: in bf16 rounded once, as one product over the joined keys). Scores are divided by
// sqrt(query_pre_attn_scalar, else head_dim) and soft-capped before the mask.
at::Tensor attend(const ModelConfig& config, const at::Tensor& q, const std::vector<at::Tensor>& keys,
                  const std::vector<at::Tensor>& values, const at::Tensor& bias) {
  const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2), head_dim = q.size(3);
  const int64_t kv_heads = keys.front().size(1), group = heads / kv_heads;
  const double scale = config.query_pre_attn_scalar > 0 ? config.query_pre_attn_scalar : static_cast<double>(head_dim);
  const bool wide = wide_attention(config);
  const at::Tensor grouped_q = q.reshape({batch, kv_heads, group * tokens, head_dim});
  std::vector<at::Tensor> scores;
  for (const at::Tensor& k : keys) {
    const at::Tensor keys_t = k.transpose(-1, -2);
    scores.push_back((wide ? batched_matmul(grouped_q, keys_t) : at::matmul(grouped_q, keys_t))
                         .view({batch, heads, tokens, k.size(2)}));
  }
  std::vector<at::Tensor> probabilities = attention_probabilities(config, scores, scale, bias);
  for (at::Tensor& part : probabilities) part = part.view({batch, kv_heads, group * tokens, part.size(-1)});
  // Tiny models keep at::matmul (their results bit for bit); only wide ones attend in parts.
  const at::Tensor context = wide ? batched_matmul_sum(probabilities, values)
                                  : at::matmul(probabilities.front(), values.front());
  return context.view({batch, heads, tokens, head_dim}).transpose(1, 2).reshape({batch, tokens, heads * head_dim});
}

// Query rows per chunk of causal_attend.
constexpr int64_t kCausalChunk = 128;

// attend over a pass's own keys (no cache joined to them), its queries in chunks of kCausalChunk rows,
// each against the keys up to its last row: causal masking hides every later key from the whole chunk,
// so their scores need not be computed (over 512 tokens, 37.5% fewer). Wide models in inference only;
// elsewhere one attend over all keys.
at::Tensor causal_attend(const ModelConfig& config, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const at::Tensor& bias) {
  const int64_t tokens = q.size(2);
  if (!wide_attention(config) || at::GradMode::is_enabled() || tokens <= kCausalChunk || k.size(2) != tokens)
    return attend(config, q, {k}, {v}, bias);
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < tokens; start += kCausalChunk) {
    const int64_t length = std::min(kCausalChunk, tokens - start), seen = start + length;
    parts.push_back(attend(config, q.narrow(2, start, length), {k.narrow(2, 0, seen)}, {v.narrow(2, 0, seen)},
                           bias.narrow(2, start, length).narrow(3, 0, seen)));
  }
  return at::cat(parts, 1);
}

// What a layer's attention sees of the positions: RoPE's cos and sin and the mask, one bias per block of
// the pass (each [B, 1, block tokens, block keys]). Full-attention and sliding layers may differ in both.
struct AttentionTables {
  at::Tensor cos, sin;
  std::vector<at::Tensor> biases;
};

// keep_keys: the result carries the keys and values of past and current tokens together (for a cache);
// otherwise a wide model in fp32, or in bf16 on the CPU, attends to the past in place, without joining
// it to the current tokens (fp16 and bf16 on a GPU join them: there each part's product would round to
// the dtype before they are summed).
AttentionResult self_attention(const ModelConfig& config, const DecoderLayer& layer, const at::Tensor& x,
                               const AttentionTables& tables, const at::Tensor& past_keys,
                               const at::Tensor& past_values, const PassBlocks& blocks, bool keep_keys) {
  const int64_t batch = x.size(0), tokens = x.size(1), head_dim = config.head_dim;
  const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;

  at::Tensor q = linear(layer.q_proj, x, blocks).view({batch, tokens, heads, head_dim});
  at::Tensor k = linear(layer.k_proj, x, blocks).view({batch, tokens, kv_heads, head_dim});
  at::Tensor v = linear(layer.v_proj, x, blocks).view({batch, tokens, kv_heads, head_dim}).transpose(1, 2);
  if (config.qk_norm) {
    q = rms_norm(q, layer.q_norm, config);
    k = rms_norm(k, layer.k_norm, config);
  }
  q = apply_rotary(config, q, tables.cos, tables.sin);
  k = apply_rotary(config, k, tables.cos, tables.sin);
  const bool past_apart = past_keys.defined() && !keep_keys && wide_attention(config) &&
                          (x.scalar_type() == at::kFloat || (x.scalar_type() == at::kBFloat16 && x.device().is_cpu()));
  if (past_keys.defined() && !past_apart) {
    k = at::cat({with_batch(past_keys, batch), k}, 2);
    v = at::cat({with_batch(past_values, batch), v}, 2);
  }
  at::Tensor context;
  if (past_apart) {
    context = attend(config, q, {with_batch(past_keys, batch), k}, {with_batch(past_values, batch), v},
                     tables.biases.front());
  } else if (!blocks.several()) {
    context = causal_attend(config, q, k, v, tables.biases.front());
  } else {
    std::vector<at::Tensor> parts;
    for (size_t b = 0; b < blocks.lengths.size(); ++b) {
      const int64_t start = blocks.starts[b], length = blocks.lengths[b];
      parts.push_back(attend(config, q.narrow(2, start, length), {k.narrow(2, start, length)},
                             {v.narrow(2, start, length)}, tables.biases[b]));
    }
    context = at::cat(parts, 1);
  }
  return {linear(layer.o_proj, context, blocks), k, v};
}

// The gated MLP: down(act(gate(x)) * up(x)), act SiLU or (Gemma) tanh-approximated GELU.
at::Tensor gated_mlp(const ModelConfig& config, const DecoderLayer& layer, const at::Tensor& x,
                     const PassBlocks& blocks) {
  const at::Tensor projected = linear(layer.gate_proj, x, blocks);
  const at::Tensor up = linear(layer.up_proj, x, blocks);
  if (config.hidden_activation == "silu" && fused(config, projected))
    return linear(layer.down_proj, fused_silu_mul(projected, up), blocks);
  const at::Tensor gate = config.hidden_activation == "silu" ? at::silu(projected) : at::gelu(projected, "tanh");
  return linear(layer.down_proj, gate * up, blocks);
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
  // Dynamic NTK scaling exists to run past the trained context.
  const int64_t total = input.input_ids.size(1) + (input.past ? input.past->length() : 0);
  if (config.max_position_embeddings > 0 && total > config.max_position_embeddings &&
      config.rope_scaling.type != "dynamic")
    throw Error(fmt::format("sequence of {} tokens exceeds the model's context of {} tokens", total,
                            config.max_position_embeddings));
}

// The attention mask over the cached past (all ones where the cache has none) and the current tokens
// (all ones without input.attention_mask), on the model's device.
at::Tensor mask_with_past(const Model& model, const ForwardInput& input, const at::Tensor& ids) {
  const int64_t batch = ids.size(0), tokens = ids.size(1);
  const auto long_options = ids.options();
  const at::Tensor current_mask = input.attention_mask.defined()
                                      ? input.attention_mask.to(model.device(), at::kLong)
                                      : at::ones({batch, tokens}, long_options);
  if (!input.past || input.past->length() == 0) return current_mask;
  const at::Tensor past_mask = input.past->attention_mask.defined()
                                   ? input.past->attention_mask.to(model.device(), at::kLong)
                                   : at::ones({input.past->batch_size(), input.past->length()}, long_options);
  return at::cat({with_batch(past_mask, batch), current_mask}, 1);
}

// The rotary tables of the full-attention layers at `positions`, and of the sliding layers when the
// model has any (Gemma 3's rotate with their own base and no scaling; the others share the full ones).
void set_rotary_tables(const Model& model, const at::Tensor& positions, AttentionTables& full,
                       AttentionTables& sliding) {
  const ModelConfig& config = model.config;
  const int64_t seq_len = config.rope_scaling.type == "dynamic" ? positions.max().item<int64_t>() + 1 : 0;
  std::tie(full.cos, full.sin) = rotary_tables(
      positions,
      inverse_frequencies(config.head_dim, config.rope_theta, config.rope_scaling, config.max_position_embeddings,
                          seq_len, model.device()),
      model.dtype());
  if (!config.sliding_window.has_value()) return;
  if (config.rope_local_base_freq)
    std::tie(sliding.cos, sliding.sin) = rotary_tables(
        positions, inverse_frequencies(config.head_dim, *config.rope_local_base_freq, {}, 0, 0, model.device()),
        model.dtype());
  else
    std::tie(sliding.cos, sliding.sin) = std::tie(full.cos, full.sin);
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
  const at::Tensor full_mask = mask_with_past(model, input, ids);
  PassBlocks blocks;
  blocks.training = options.training;
  blocks.dropout_seeds = &options.dropout_seeds;
  blocks.lengths = input.block_lengths.empty() ? std::vector<int64_t>{tokens} : input.block_lengths;
  if (options.return_cache && blocks.several())
    throw Error("forward: a pass of several blocks has no cache to return (its keys mix the blocks)");
  if (!options.dropout_seeds.empty() && options.dropout_seeds.size() != blocks.lengths.size())
    throw Error(fmt::format("forward: {} dropout seeds for {} blocks", options.dropout_seeds.size(),
                            blocks.lengths.size()));
  const bool any_sliding = config.sliding_window.has_value();
  std::vector<at::Tensor> block_positions;
  AttentionTables full, sliding;
  int64_t start = 0;
  for (const int64_t length : blocks.lengths) {
    blocks.starts.push_back(start);
    const at::Tensor block_mask = blocks.several() ? full_mask.narrow(1, start, length) : full_mask;
    block_positions.push_back((block_mask.cumsum(1) - 1).clamp_min(0).narrow(1, past_length, length));
    full.biases.push_back(attention_bias(block_mask, past_length, length, std::nullopt));
    if (any_sliding) sliding.biases.push_back(attention_bias(block_mask, past_length, length, config.sliding_window));
    if (blocks.several()) {
      const at::Tensor real_rows = block_mask.any(1).nonzero();
      blocks.rows.push_back(real_rows.numel() == 0 ? batch : real_rows.max().item<int64_t>() + 1);
    } else {
      blocks.rows.push_back(batch);
    }
    start += length;
  }
  const at::Tensor positions = blocks.several() ? at::cat(block_positions, 1) : block_positions.front();
  set_rotary_tables(model, positions, full, sliding);

  ForwardOutput output;
  at::Tensor x = at::embedding(model.embed_tokens, ids);
  if (config.scale_embeddings)
    x = x * at::scalar_tensor(std::sqrt(static_cast<double>(config.hidden_size)), x.options());
  if (options.capture_hidden_states) output.hidden_states.push_back(x);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const DecoderLayer& layer = model.layers[i];
    const at::Tensor past_keys = has_past ? input.past->keys[i] : at::Tensor();
    const at::Tensor past_values = has_past ? input.past->values[i] : at::Tensor();
    AttentionResult attention =
        self_attention(config, layer, rms_norm(x, layer.input_layernorm, config),
                       layer_slides(config, i) ? sliding : full, past_keys, past_values, blocks, options.return_cache);
    if (config.sandwich_norms) {
      x = x + rms_norm(attention.output, layer.post_attention_layernorm, config);
      x = x + rms_norm(gated_mlp(config, layer, rms_norm(x, layer.pre_feedforward_layernorm, config), blocks),
                       layer.post_feedforward_layernorm, config);
    } else {
      x = x + attention.output;
      x = x + gated_mlp(config, layer, rms_norm(x, layer.post_attention_layernorm, config), blocks);
    }
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
  return rms_norm(hidden, model.norm, model.config);
}

at::Tensor logits(const Model& model, const at::Tensor& final_hidden) {
  const at::Tensor x = final_hidden.to(model.dtype());
  Linear unembedding;
  unembedding.weight = model.lm_head;
  unembedding.packed = model.packed_lm_head;
  const bool packed = unembedding.packed && unembedding.packed->serves(x, unembedding);
  return soft_cap(packed ? unembedding.packed->forward(x) : dense_linear(x, plain_weight(unembedding)),
                  model.config.final_logit_softcapping)
      .to(at::kFloat);
}

}  // namespace qtalign::model
