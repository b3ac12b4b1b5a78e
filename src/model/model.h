#pragma once
// A model is plain data: its config and its named tensors, laid out as Hugging Face names them.
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/packed_linear.h"
#include "model/quantization.h"

namespace qtalign::model {

// A LoRA adapter on one linear layer: y += scale * dropout(x) A^T B^T, with scale = alpha / r.
struct LoraWeights {
  at::Tensor a;  // [r, in]
  at::Tensor b;  // [out, r]
  double scale = 1.0;
  double dropout = 0.0;
};

// One linear layer: y = x W^T + bias (+ LoRA when attached). W is dense (`weight`), 4-bit quantized
// (`quantized`, then `weight` is undefined), or dense and packed for inference (`packed`, then `weight`
// is undefined: plain_weight unpacks it); the forward pass takes each.
struct Linear {
  at::Tensor weight;          // [out, in]
  std::shared_ptr<const QuantizedWeight> quantized;
  at::Tensor bias;            // [out] or undefined
  std::shared_ptr<LoraWeights> lora;  // null unless an adapter is attached
  // The weight laid out for oneDNN once, for inference (pack_for_inference); null unless packed.
  std::shared_ptr<const PackedLinear> packed;

  int64_t out_features() const {
    return quantized ? quantized->rows : weight.defined() || !packed ? weight.size(0) : packed->out_features();
  }
  int64_t in_features() const {
    return quantized ? quantized->columns : weight.defined() || !packed ? weight.size(1) : packed->in_features();
  }
};

struct DecoderLayer {
  at::Tensor input_layernorm;           // [hidden]
  Linear q_proj, k_proj, v_proj, o_proj;
  at::Tensor q_norm, k_norm;            // [head_dim] when config.qk_norm
  // Before the MLP; with config.sandwich_norms (Gemma), after attention instead.
  at::Tensor post_attention_layernorm;  // [hidden]
  at::Tensor pre_feedforward_layernorm, post_feedforward_layernorm;  // [hidden] when config.sandwich_norms
  Linear gate_proj, up_proj, down_proj;
};

struct Model {
  ModelConfig config;
  at::Tensor embed_tokens;  // [vocab, hidden]
  std::vector<DecoderLayer> layers;
  at::Tensor norm;          // [hidden]
  // [vocab, hidden]; the same tensor as embed_tokens when tied; undefined once packed_lm_head holds it
  at::Tensor lm_head;
  std::shared_ptr<const PackedLinear> packed_lm_head;  // null unless packed (pack_for_inference)
  // Keeps memory-mapped checkpoint files alive for tensors that view them.
  std::vector<std::shared_ptr<const io::SafetensorsFile>> storage;
  // How the decoder's linear weights were quantized (type empty = dense), for provenance and checks.
  QuantizationOptions quantization;

  at::ScalarType dtype() const { return embed_tokens.scalar_type(); }
  int64_t vocab_size() const { return embed_tokens.size(0); }  // lm_head's rows too
  at::Device device() const { return embed_tokens.device(); }
};

// Calls fn(name, linear) for each linear layer of the model with its Hugging Face module name,
// e.g. "model.layers.0.self_attn.q_proj" (lm_head excluded).
template <typename Fn>
void for_each_linear(Model& model, Fn&& fn) {
  for (size_t i = 0; i < model.layers.size(); ++i) {
    auto& layer = model.layers[i];
    const std::string attention = "model.layers." + std::to_string(i) + ".self_attn.";
    const std::string mlp = "model.layers." + std::to_string(i) + ".mlp.";
    fn(attention + "q_proj", layer.q_proj);
    fn(attention + "k_proj", layer.k_proj);
    fn(attention + "v_proj", layer.v_proj);
    fn(attention + "o_proj", layer.o_proj);
    fn(mlp + "gate_proj", layer.gate_proj);
    fn(mlp + "up_proj", layer.up_proj);
    fn(mlp + "down_proj", layer.down_proj);
  }
}

}  // namespace qtalign::model
