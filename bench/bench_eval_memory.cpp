// Peak memory of few-shot evaluation on the Qwen1.5-1.8B shape (random bf16 weights) with real
// benchmark prompts and the Qwen tokenizer: eval::evaluate_language on a few items, then the bytes of
// the weights, of the KV cache the prompts need (the demonstrations' cache, kept, plus one batch's
// keys and values after it), the peak resident set size during the evaluation (VmHWM, reset once the
// model is built so building it does not count) and the ratio peak / (weights + KV cache).
//
// Usage: bench_eval_memory [--task snli] [--lang en] [--items 8] [--batch-size 8] [--threads N]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmark_setup.h"
#include "eval/evaluator.h"
#include "model/packed_linear.h"
#include "model/random_model.h"

namespace {

using namespace qtalign;

struct Arguments {
  std::string task = "snli";
  std::string language = "en";
  int64_t items = 8;
  int64_t batch_size = 8;
  int threads = 0;
};

Arguments parse_arguments(int argc, char** argv) {
  if (argc % 2 == 0) throw std::runtime_error("options come in pairs: --name value");
  Arguments arguments;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--task") arguments.task = value;
    else if (name == "--lang") arguments.language = value;
    else if (name == "--items") arguments.items = std::stoll(value);
    else if (name == "--batch-size") arguments.batch_size = std::stoll(value);
    else if (name == "--threads") arguments.threads = std::stoi(value);
    else throw std::runtime_error("unknown option " + name);
  }
  return arguments;
}

int64_t tensor_bytes(const at::Tensor& tensor) {
  return tensor.defined() ? tensor.numel() * static_cast<int64_t>(tensor.element_size()) : 0;
}

int64_t weight_bytes(const model::Model& model) {
  int64_t bytes = tensor_bytes(model.embed_tokens) + tensor_bytes(model.norm);
  if (!model.lm_head.is_same(model.embed_tokens)) bytes += tensor_bytes(model.lm_head);
  for (const model::DecoderLayer& layer : model.layers) {
    bytes += tensor_bytes(layer.input_layernorm) + tensor_bytes(layer.post_attention_layernorm);
    for (const model::Linear* linear : {&layer.q_proj, &layer.k_proj, &layer.v_proj, &layer.o_proj, &layer.gate_proj,
                                        &layer.up_proj, &layer.down_proj})
      bytes += tensor_bytes(linear->weight) + tensor_bytes(linear->bias);
  }
  return bytes;
}

double gib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) try {
  const Arguments arguments = parse_arguments(argc, argv);
  const c10::InferenceMode inference;
  const bench::EvaluationSetup setup =
      bench::evaluation_setup(arguments.threads, arguments.task, arguments.language, arguments.items);
  const int threads = setup.threads;
  const data::TaskProtocol& task = setup.task();
  const std::vector<data::TaskItem>& items = setup.items;
  const tokenizer::Tokenizer& tokenizer = setup.tokenizer;

  const model::ModelConfig config = model::qwen1_5_1_8b_shape_config();
  std::printf("bench_eval_memory: %s/%s, %ld items, batch %ld, Qwen1.5-1.8B shape (random bf16 weights), %d threads\n",
              arguments.task.c_str(), arguments.language.c_str(), static_cast<long>(arguments.items),
              static_cast<long>(arguments.batch_size), threads);
  model::Model model = model::make_random_model(config, 1, at::kBFloat16);
  const int64_t weights = weight_bytes(model);  // as the checkpoint holds them, before packing
  model::pack_for_inference(model);  // as eval::run does
  const int64_t rss_with_model = bench::status_bytes("VmRSS");
  bench::reset_peak_rss();

  eval::EvaluationOptions options;
  options.batch_size = arguments.batch_size;
  const auto start = std::chrono::steady_clock::now();
  const eval::LanguageEvaluation result =
      eval::evaluate_language(model, tokenizer, task, arguments.language, items, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t peak = bench::status_bytes("VmHWM");

  // Keys and values per token over all layers, in the compute dtype.
  const int64_t per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim *
                            static_cast<int64_t>(c10::elementSize(at::kBFloat16));
  int64_t longest_continuation = 0, prompt_tokens = 0;
  for (const eval::ItemResult& item : result.items) {
    longest_continuation = std::max(longest_continuation, item.prompt_tokens - (item.cached ? result.prefix_tokens : 0));
    prompt_tokens += item.prompt_tokens;
  }
  const int64_t batch = std::min<int64_t>(arguments.batch_size, arguments.items);
  const int64_t prefix_cache = result.prefix_tokens * per_token;
  const int64_t batch_cache = batch * longest_continuation * per_token;
  const int64_t kv_cache = prefix_cache + batch_cache;

  std::printf("evaluated %ld items in %.1f s (prefix %ld tokens, longest continuation %ld, %ld prompt tokens, "
              "%ld fallbacks)\n",
              static_cast<long>(result.items.size()), seconds, static_cast<long>(result.prefix_tokens),
              static_cast<long>(longest_continuation), static_cast<long>(prompt_tokens),
              static_cast<long>(result.prefix_fallbacks));
  std::printf("weights          %10.3f GiB (%ld bytes)\n", gib(weights), static_cast<long>(weights));
  std::printf("KV cache         %10.3f GiB (prefix %.3f GiB + batch of %ld x %ld tokens %.3f GiB)\n", gib(kv_cache),
              gib(prefix_cache), static_cast<long>(batch), static_cast<long>(longest_continuation), gib(batch_cache));
  std::printf("RSS after build  %10.3f GiB\n", gib(rss_with_model));
  std::printf("peak RSS (eval)  %10.3f GiB\n", gib(peak));
  std::printf("peak / (weights + KV cache) = %.3f (target < 1.3)\n",
              static_cast<double>(peak) / static_cast<double>(weights + kv_cache));
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "bench_eval_memory: %s\n", error.what());
  return 1;
}
