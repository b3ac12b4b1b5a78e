// The forward pass on real checkpoint files against tests/reference/hf_reference.py, an independent
// eager implementation of Hugging Face's Qwen2/Llama/Mistral modeling code that reads the same
// directories with its own safetensors parser. Some checkpoints are written by the reference
// (checking our reader), some by save_model (checking our writer against its reader).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <memory>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

namespace fs = std::filesystem;
using io::Json;

// fp32 against fp32: Hugging Face fidelity as the spec states it.
constexpr double kFp32Tolerance = 1e-4;
// bf16 compute keeps ~8 bits of mantissa: relative to the largest logit, errors of a few percent.
constexpr double kBf16RelativeTolerance = 0.05;

struct CheckpointSpec {
  std::string name;
  int64_t vocab_size;
  std::vector<std::string> reference_arguments;  // make-checkpoint arguments when the reference writes it
  std::optional<ModelConfig> config;             // otherwise make_random_model + save_model
  at::ScalarType disk_dtype = at::kFloat;
  uint64_t max_shard_bytes = uint64_t(5) << 30;
  // A control: this change to the config (the family detail the spec is about) must move the logits
  // far beyond the tolerance, so the match above cannot come from the detail not mattering.
  std::function<void(ModelConfig&)> perturb;
  // Dynamic NTK rescales RoPE by the pass's length, so a cached prefix keeps the rotation of its own
  // shorter pass (as in transformers) and cannot equal one uncached pass; those comparisons are left out.
  bool cache_equals_uncached = true;
};

// Test names show the checkpoint's name rather than the bytes of the spec.
void PrintTo(const CheckpointSpec& spec, std::ostream* out) { *out << spec.name; }

ModelConfig llama_mqa_config() {
  ModelConfig config;
  config.model_type = "llama";
  config.vocab_size = 61;
  config.hidden_size = 32;
  config.intermediate_size = 80;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 1;
  config.head_dim = 8;
  config.max_position_embeddings = 2048;
  config.rms_norm_eps = 1e-5;
  config.rope_theta = 10000.0;
  config.tie_word_embeddings = true;
  return config;
}

ModelConfig qwen2_untied_config() {
  ModelConfig config = tiny_qwen2_config(89);
  config.tie_word_embeddings = false;
  return config;
}

const std::vector<CheckpointSpec>& checkpoints() {
  static const std::vector<CheckpointSpec> specs = {
      {"qwen2_gqa_bias_tied_fp32", 97,
       {"--model-type", "qwen2", "--vocab-size", "97", "--hidden-size", "64", "--heads", "4", "--kv-heads", "2",
        "--tie", "--rope-theta", "1000000", "--dtype", "fp32", "--seed", "1"}},
      {"llama_mha_head_dim_fp16", 83,
       {"--model-type", "llama", "--vocab-size", "83", "--hidden-size", "48", "--heads", "4", "--head-dim", "16",
        "--intermediate-size", "96", "--rms-norm-eps", "1e-5", "--dtype", "fp16", "--seed", "2"}},
      {"mistral_gqa_bf16_sharded", 101,
       {"--model-type", "mistral", "--vocab-size", "101", "--heads", "8", "--kv-heads", "2", "--layers", "3",
        "--dtype", "bf16", "--shards", "3", "--seed", "3"}},
      {"qwen2_untied_bf16_sharded_by_qtalign", 89, {}, qwen2_untied_config(), at::kBFloat16, 40000},
      {"llama_mqa_tied_fp32_by_qtalign", 61, {}, llama_mqa_config(), at::kFloat},
      // The new families and options, each with the control that shows its detail matters.
      {"llama3_rope_scaling", 83,
       {"--model-type", "llama", "--vocab-size", "83", "--heads", "4", "--kv-heads", "2", "--seed", "11",
        "--rope-scaling",
        R"({"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8, "rope_type": "llama3"})"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.rope_scaling = {}; }},
      {"llama_linear_rope_type_key", 83,
       {"--model-type", "llama", "--vocab-size", "83", "--seed", "12", "--rope-scaling",
        R"({"type": "linear", "factor": 4.0})"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.rope_scaling = {}; }},
      {"llama_dynamic_ntk", 83,
       {"--model-type", "llama", "--vocab-size", "83", "--seed", "13", "--max-position-embeddings", "5",
        "--rope-theta", "100", "--rope-scaling", R"({"rope_type": "dynamic", "factor": 4.0})"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.rope_scaling.factor = 2.0; }, false},
      {"mistral_sliding_window", 101,
       {"--model-type", "mistral", "--vocab-size", "101", "--heads", "4", "--kv-heads", "2", "--layers", "3",
        "--sliding-window", "4", "--seed", "14"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.sliding_window.reset(); }},
      {"qwen2_sliding_upper_layers", 97,
       {"--model-type", "qwen2", "--vocab-size", "97", "--heads", "4", "--kv-heads", "2", "--layers", "3",
        "--use-sliding-window", "--sliding-window", "3", "--max-window-layers", "1", "--seed", "15"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.sliding_window.reset(); }},
      {"qwen3_qk_norm_head_dim", 89,
       {"--model-type", "qwen3", "--vocab-size", "89", "--heads", "4", "--kv-heads", "2", "--head-dim", "24",
        "--layers", "3", "--rope-theta", "1000000", "--seed", "16"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.rope_theta = 10000.0; }},
      {"qwen3_attention_bias", 89,
       {"--model-type", "qwen3", "--vocab-size", "89", "--heads", "4", "--kv-heads", "1", "--attention-bias",
        "--seed", "17"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.qk_norm = false; }},
      {"gemma2_softcap_window", 97,
       {"--model-type", "gemma2", "--vocab-size", "97", "--heads", "4", "--kv-heads", "2", "--layers", "3",
        "--sliding-window", "4", "--query-pre-attn-scalar", "24", "--attn-logit-softcapping", "3",
        "--final-logit-softcapping", "2", "--seed", "18"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.attn_logit_softcapping.reset(); }},
      {"gemma3_text_local_global", 97,
       {"--model-type", "gemma3_text", "--vocab-size", "97", "--heads", "4", "--kv-heads", "2", "--layers", "3",
        "--sliding-window", "4", "--sliding-window-pattern", "2", "--rope-theta", "1000000",
        "--rope-local-base-freq", "100", "--rope-scaling", R"({"rope_type": "linear", "factor": 8.0})", "--seed",
        "19"},
       {}, at::kFloat, uint64_t(5) << 30, [](ModelConfig& c) { c.rope_local_base_freq.reset(); }},
  };
  return specs;
}

// make_random_model draws N(0, 0.02), under which attention is nearly uniform and logits tiny; rescaled
// like the reference's checkpoints, errors in RoPE, masking or head grouping become visible.
Model with_informative_scale(Model model) {
  const double hidden = static_cast<double>(model.config.hidden_size);
  model.embed_tokens = model.embed_tokens / 0.02;
  if (model.config.tie_word_embeddings) model.lm_head = model.embed_tokens;
  else model.lm_head = model.lm_head / (0.02 * std::sqrt(hidden));
  for_each_linear(model, [](const std::string& name, Linear& linear) {
    const bool query_or_key = name.find("q_proj") != std::string::npos || name.find("k_proj") != std::string::npos;
    const double gain = query_or_key ? 2.0 : 1.0;
    linear.weight = linear.weight * (gain / (0.02 * std::sqrt(static_cast<double>(linear.weight.size(1)))));
    if (linear.bias.defined()) linear.bias = linear.bias * 25.0;
  });
  return model;
}

// The three kinds of input every checkpoint is run on.
struct Inputs {
  at::Tensor single;         // [1, 12]
  at::Tensor padded;         // [3, 10], left-padded to lengths 10, 6, 3
  at::Tensor padded_mask;
  at::Tensor prefix;         // [1, 6], a shared prefix
  at::Tensor continuation;   // [3, 5], left-padded to lengths 5, 3, 1
  at::Tensor continuation_mask;
  at::Tensor prefixed;       // [3, 11]: prefix + continuation, as one uncached batch
  at::Tensor prefixed_mask;
};

at::Tensor left_padding_mask(int64_t width, const std::vector<int64_t>& lengths) {
  at::Tensor mask = at::zeros({static_cast<int64_t>(lengths.size()), width}, at::kLong);
  for (size_t row = 0; row < lengths.size(); ++row) mask[row].narrow(0, width - lengths[row], lengths[row]).fill_(1);
  return mask;
}

Inputs make_inputs(int64_t vocab_size, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto ids = [&](std::vector<int64_t> shape) {
    return at::randint(1, vocab_size, shape, generator, at::TensorOptions().dtype(at::kLong));
  };
  Inputs inputs;
  inputs.single = ids({1, 12});
  inputs.padded_mask = left_padding_mask(10, {10, 6, 3});
  inputs.padded = ids({3, 10}) * inputs.padded_mask;  // padding id 0
  inputs.prefix = ids({1, 6});
  inputs.continuation_mask = left_padding_mask(5, {5, 3, 1});
  inputs.continuation = ids({3, 5}) * inputs.continuation_mask;
  inputs.prefixed = at::cat({inputs.prefix.expand({3, 6}), inputs.continuation}, 1);
  inputs.prefixed_mask = at::cat({at::ones({3, 6}, at::kLong), inputs.continuation_mask}, 1);
  return inputs;
}

std::vector<std::string> make_argv(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// One checkpoint with its inputs and the reference's outputs on them (fp32 and bf16 compute).
struct ParityRun {
  testing::TempDir dir;
  Inputs inputs;
  testing::CommandResult reference_run;

  explicit ParityRun(const CheckpointSpec& spec) : inputs(make_inputs(spec.vocab_size, 100 + spec.vocab_size)) {
    Json jobs = Json::array();
    if (spec.config)
      save_model(with_informative_scale(make_random_model(*spec.config, 4)), checkpoint(), spec.disk_dtype,
                 spec.max_shard_bytes);
    else
      jobs.push_back(make_argv({"make-checkpoint", "--out", checkpoint().string()}, spec.reference_arguments));
    const fs::path input_file = dir / "inputs.safetensors";
    io::write_safetensors(input_file, {{"single.input_ids", inputs.single},
                                       {"padded.input_ids", inputs.padded},
                                       {"padded.attention_mask", inputs.padded_mask},
                                       {"prefixed.input_ids", inputs.prefixed},
                                       {"prefixed.attention_mask", inputs.prefixed_mask}});
    for (const std::string dtype : {"fp32", "bf16"})
      jobs.push_back({"forward", "--model", checkpoint().string(), "--inputs", input_file.string(), "--output",
                      reference_output(dtype).string(), "--dtype", dtype});
    io::write_json_file(dir / "jobs.json", jobs);
    reference_run = testing::run_command(
        testing::python() + " " + testing::shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) +
        " jobs " + testing::shell_quote((dir / "jobs.json").string()));
  }

  fs::path checkpoint() const { return dir / "checkpoint"; }
  fs::path reference_output(const std::string& dtype) const { return dir / (dtype + ".reference.safetensors"); }
};

// Largest |a - b| over the real positions ([batch, tokens] mask) of [batch, tokens, ...] tensors
// (a batch of 1 stands for every row).
double max_abs_diff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& real) {
  EXPECT_EQ(a.sizes().slice(1), b.sizes().slice(1));
  const at::Tensor per_position = (a.to(at::kDouble) - b.to(at::kDouble)).abs().flatten(2).amax(-1);
  return per_position.masked_select(real.to(at::kBool)).max().item<double>();
}

struct Diffs {
  double logits = 0;
  double hidden = 0;  // over every layer's hidden states and the final normed ones
};

// Compares our outputs for `tokens` columns with the reference's case starting at `column`.
Diffs compare(const Model& model, const ForwardOutput& ours, const io::SafetensorsFile& reference,
              const std::string& name, const at::Tensor& real, int64_t column) {
  const int64_t tokens = ours.final_hidden.size(1);
  const auto expected = [&](const std::string& key) {
    return reference.tensor(name + "." + key).narrow(1, column, tokens);
  };
  const int64_t layers = model.config.num_hidden_layers;
  Diffs diffs;
  EXPECT_EQ(static_cast<int64_t>(ours.hidden_states.size()), layers + 1);
  for (int64_t i = 0; i < layers; ++i)
    diffs.hidden = std::max(diffs.hidden, max_abs_diff(ours.hidden_states[i], expected("hidden_states." + std::to_string(i)), real));
  // Ours are all before the final norm; transformers' last entry is after it.
  diffs.hidden = std::max(diffs.hidden, max_abs_diff(ours.hidden_states[layers], expected("last_layer_output"), real));
  diffs.hidden = std::max(diffs.hidden, max_abs_diff(ours.final_hidden, expected("hidden_states." + std::to_string(layers)), real));
  diffs.logits = max_abs_diff(logits(model, ours.final_hidden), expected("logits"), real);
  return diffs;
}

ForwardOutput run(const Model& model, const at::Tensor& ids, const at::Tensor& mask = {}, const KVCache* past = nullptr,
                  bool return_cache = false) {
  ForwardOptions options;
  options.capture_hidden_states = true;
  options.return_cache = return_cache;
  return forward(model, {ids, mask, past}, options);
}

using HuggingFaceParity = ::testing::TestWithParam<CheckpointSpec>;

// Each checkpoint is one test: ctest runs every test in its own process, and the reference's start-up
// (importing torch) is the slowest part.
TEST_P(HuggingFaceParity, MatchesTheReference) {
  const CheckpointSpec& spec = GetParam();
  const ParityRun prepared(spec);
  ASSERT_EQ(prepared.reference_run.exit_code, 0) << prepared.reference_run.output;
  const Inputs& inputs = prepared.inputs;
  const Model model = load_model(prepared.checkpoint(), {at::kFloat});
  const auto reference = io::SafetensorsFile::open(prepared.reference_output("fp32"));
  const auto expect_close = [&](const std::string& what, const Diffs& diffs) {
    std::cout << "[parity] " << spec.name << " " << what << ": max |logits diff| " << diffs.logits
              << ", max |hidden diff| " << diffs.hidden << std::endl;
    EXPECT_LE(diffs.logits, kFp32Tolerance) << what;
    EXPECT_LE(diffs.hidden, kFp32Tolerance) << what;
  };

  expect_close("fp32 single sequence",
               compare(model, run(model, inputs.single), *reference, "single", at::ones({1, 12}), 0));
  expect_close("fp32 left-padded batch", compare(model, run(model, inputs.padded, inputs.padded_mask), *reference,
                                                 "padded", inputs.padded_mask, 0));
  if (spec.perturb) {
    Model perturbed = model;
    spec.perturb(perturbed.config);
    const double moved =
        compare(perturbed, run(perturbed, inputs.single), *reference, "single", at::ones({1, 12}), 0).logits;
    std::cout << "[parity] " << spec.name << " control (perturbed config): max |logits diff| " << moved << std::endl;
    EXPECT_GT(moved, 100 * kFp32Tolerance) << "the perturbed config matches the reference as well";
  }
  if (spec.cache_equals_uncached) {
    // A batch-1 prefix run once, its cache serving a left-padded batch of continuations.
    const ForwardOutput prefix = run(model, inputs.prefix, {}, nullptr, /*return_cache=*/true);
    expect_close("fp32 prefix (batch 1)", compare(model, prefix, *reference, "prefixed", at::ones({3, 6}), 0));
    const ForwardOutput continued = run(model, inputs.continuation, inputs.continuation_mask, &prefix.cache);
    expect_close("fp32 continuation batch on the prefix cache",
                 compare(model, continued, *reference, "prefixed", inputs.continuation_mask, 6));

    // ... which equals running prefix + continuation in one uncached pass.
    const ForwardOutput whole = run(model, inputs.prefixed, inputs.prefixed_mask);
    Diffs uncached;
    for (size_t i = 0; i < whole.hidden_states.size(); ++i)
      uncached.hidden = std::max(uncached.hidden, max_abs_diff(continued.hidden_states[i],
                                                               whole.hidden_states[i].narrow(1, 6, 5),
                                                               inputs.continuation_mask));
    uncached.logits = max_abs_diff(logits(model, continued.final_hidden),
                                   logits(model, whole.final_hidden.narrow(1, 6, 5)), inputs.continuation_mask);
    expect_close("fp32 cached continuation vs the uncached run", uncached);
  }

  // bf16 compute: close to the fp32 reference, relative to the logits' scale.
  const Model bf16_model = load_model(prepared.checkpoint(), {at::kBFloat16});
  ASSERT_EQ(bf16_model.dtype(), at::kBFloat16);
  const at::Tensor bf16_logits =
      logits(bf16_model, run(bf16_model, inputs.padded, inputs.padded_mask).final_hidden);
  for (const std::string reference_dtype : {"fp32", "bf16"}) {
    const at::Tensor expected =
        io::SafetensorsFile::open(prepared.reference_output(reference_dtype))->tensor("padded.logits");
    const double scale = expected.abs().max().item<double>();
    const double diff = max_abs_diff(bf16_logits, expected, inputs.padded_mask);
    std::cout << "[parity] " << spec.name << " bf16 compute vs " << reference_dtype << " reference: max |logits diff| "
              << diff << " (largest |logit| " << scale << ")" << std::endl;
    EXPECT_LE(diff, kBf16RelativeTolerance * scale) << "against the " << reference_dtype << " reference";
    // The prediction a user sees: the top token agrees wherever the reference's top two are not a near tie.
    const at::Tensor top2 = std::get<0>(expected.topk(2, -1));
    const at::Tensor clear =
        (top2.select(-1, 0) - top2.select(-1, 1)).gt(0.1 * scale) & inputs.padded_mask.to(at::kBool);
    EXPECT_TRUE(at::equal(bf16_logits.argmax(-1).masked_select(clear), expected.argmax(-1).masked_select(clear)));
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, HuggingFaceParity, ::testing::ValuesIn(checkpoints()),
                         [](const ::testing::TestParamInfo<CheckpointSpec>& info) { return info.param.name; });

}  // namespace
}  // namespace qtalign::model
