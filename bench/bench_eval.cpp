// Few-shot evaluation throughput on a model shape (random weights; Qwen1.5-0.5B unless --shape names
// another preset of `qtalign init-model`, e.g. qwen1.5-1.8b) with real benchmark prompts and the Qwen
// tokenizer, in one run:
//   (a) naive: one prompt at a time, the whole prompt every time, logits at every position, fp32 —
//       what the study's scripts do with Hugging Face transformers;
//   (b) optimised: eval::evaluate_language — items batched by length, the demonstrations' KV cache
//       computed once per language and reused, unembedding only at the scored position, bf16.
// Prints items/s and tokens/s of both, their ratio, and the achieved GFLOP/s of each as a fraction
// of the peak matmul GFLOP/s measured in the same run for the same dtype.
//
// Usage: bench_eval [--task snli] [--lang en] [--naive-items 8] [--items 64] [--batch-size 8]
//                   [--threads N] [--optimised-dtype bf16|fp32] [--device cpu|cuda] [--profile 0|1]
//                   [--shape qwen1.5-0.5b]
//        bench_eval --forward 1x128,1x512,8x64 [--rounds 3] [--model DIR | --shape NAME] [--optimised-dtype ...]
//                   [--threads N]
// --profile 1 runs (b) once more, recording self CPU time per operator, and prints the table.
// --forward runs neither (a) nor (b) but plain prompt processing, as llama.cpp's llama-bench measures
// it: for each shape BATCHxTOKENS, one forward pass over random token ids (no padding, no cache) and the
// logits at each row's last position, once to warm up and then once per round; it prints the median
// tokens/s of the rounds per shape (bench/llamacpp_side_by_side.py reads these lines). --model runs a
// checkpoint directory (loaded in the optimised dtype) instead of random weights of the shape.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark_setup.h"
#include "operator_profile.h"
#include "data/prompt_format.h"
#include "eval/evaluator.h"
#include "eval/label_tokens.h"
#include "eval/scoring.h"
#include "io/heap_policy.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/packed_linear.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace qtalign;
using bench::Timing;
using bench::peak_matmul_gflops;
using bench::timed;

struct Arguments {
  std::string task = "snli";
  std::string language = "en";
  int64_t naive_items = 8;
  int64_t items = 64;
  int64_t batch_size = 8;
  int threads = 0;
  std::string optimised_dtype = "bf16";
  std::string device = "cpu";
  bool profile = false;
  std::string forward;  // BATCHxTOKENS,...: plain forward throughput instead of the evaluation
  int64_t rounds = 3;
  std::string model;  // checkpoint directory for --forward (empty: random weights of `shape`)
  std::string shape = "qwen1.5-0.5b";  // preset of the random weights (model/random_model.h)
};

Arguments parse_arguments(int argc, char** argv) {
  Arguments arguments;
  std::map<std::string, std::string> values;
  for (int i = 1; i + 1 < argc; i += 2) values[argv[i]] = argv[i + 1];
  if (argc % 2 == 0) throw std::runtime_error("options come in pairs: --name value");
  for (const auto& [name, value] : values) {
    if (name == "--task") arguments.task = value;
    else if (name == "--lang") arguments.language = value;
    else if (name == "--naive-items") arguments.naive_items = std::stoll(value);
    else if (name == "--items") arguments.items = std::stoll(value);
    else if (name == "--batch-size") arguments.batch_size = std::stoll(value);
    else if (name == "--threads") arguments.threads = std::stoi(value);
    else if (name == "--optimised-dtype") arguments.optimised_dtype = value;
    else if (name == "--device") arguments.device = value;
    else if (name == "--profile") arguments.profile = std::stoi(value) != 0;
    else if (name == "--forward") arguments.forward = value;
    else if (name == "--rounds") arguments.rounds = std::stoll(value);
    else if (name == "--model") arguments.model = value;
    else if (name == "--shape") arguments.shape = value;
    else throw std::runtime_error("unknown option " + name);
  }
  return arguments;
}

// FLOPs of the model's matmuls: projections per token, attention per (query, key) pair with causal
// masking counted as the keys a query may see, unembedding per unembedded position.
struct FlopModel {
  double per_token = 0.0;
  double per_attended_key = 0.0;
  double per_unembedding = 0.0;

  explicit FlopModel(const model::ModelConfig& c) {
    const double hidden = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
    const double layers = c.num_hidden_layers;
    per_token = 2.0 * layers * (hidden * (q + 2 * kv) + q * hidden + 3.0 * hidden * c.intermediate_size);
    per_attended_key = layers * 4.0 * q;  // Q K^T and P V
    per_unembedding = 2.0 * c.vocab_size * hidden;
  }
  // `tokens` run after `past` earlier tokens.
  double run(double tokens, double past) const {
    const double attended = tokens * past + tokens * (tokens + 1) / 2;
    return tokens * per_token + attended * per_attended_key;
  }
};

// BATCHxTOKENS,... -> (batch, tokens) pairs.
std::vector<std::pair<int64_t, int64_t>> parse_shapes(const std::string& list) {
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::stringstream stream(list);
  for (std::string shape; std::getline(stream, shape, ',');) {
    const size_t x = shape.find('x');
    if (x == std::string::npos) throw std::runtime_error("--forward shape " + shape + " is not BATCHxTOKENS");
    shapes.emplace_back(std::stoll(shape.substr(0, x)), std::stoll(shape.substr(x + 1)));
    if (shapes.back().first < 1 || shapes.back().second < 1)
      throw std::runtime_error("--forward shape " + shape + " needs a batch and tokens of at least 1");
  }
  return shapes;
}

// --forward: prompt-processing throughput per shape, the median of `rounds` timed passes.
int forward_throughput(const Arguments& arguments) {
  const int threads = bench::use_threads(arguments.threads);
  const at::ScalarType dtype = model::parse_dtype(arguments.optimised_dtype);
  const std::string dtype_text = model::dtype_name(dtype);
  const at::Device device(arguments.device);
  const std::vector<std::pair<int64_t, int64_t>> shapes = parse_shapes(arguments.forward);
  model::LoadOptions load;
  load.dtype = dtype;
  load.device = device;
  model::Model model = arguments.model.empty()
                           ? model::make_random_model(model::preset_config(arguments.shape), 1, dtype, device)
                           : model::load_model(arguments.model, load);
  model::pack_for_inference(model);
  const FlopModel flops(model.config);
  const std::string weights = arguments.model.empty() ? arguments.shape + " shape (random weights)" : arguments.model;
  std::printf("bench_eval --forward: %s, %s, %d threads, device %s, median of %ld rounds\n", weights.c_str(),
              dtype_text.c_str(), threads, device.str().c_str(), static_cast<long>(arguments.rounds));
  const Timing peak = peak_matmul_gflops(dtype, device);
  std::printf("peak matmul GFLOP/s %s: %.1f per wall second, %.1f per CPU second\n", dtype_text.c_str(), peak.wall,
              peak.cpu);
  at::manual_seed(0);
  std::vector<at::Tensor> inputs;
  for (const auto& [batch, tokens] : shapes)
    inputs.push_back(at::randint(model.config.vocab_size, {batch, tokens}, at::TensorOptions(at::kLong)).to(device));
  const auto pass = [&](const at::Tensor& ids) {
    const at::Tensor hidden = model::forward(model, {ids, at::Tensor(), nullptr}).final_hidden;
    model::logits(model, hidden.select(1, hidden.size(1) - 1));
  };
  for (const at::Tensor& ids : inputs) pass(ids);  // warm-up
  std::vector<std::vector<Timing>> times(shapes.size());
  for (int64_t round = 0; round < arguments.rounds; ++round)
    for (size_t s = 0; s < shapes.size(); ++s) times[s].push_back(timed([&] { pass(inputs[s]); }, device));
  for (size_t s = 0; s < shapes.size(); ++s) {
    const auto [batch, tokens] = shapes[s];
    const auto median = [&](double Timing::*field) {
      std::vector<double> values;
      for (const Timing& t : times[s]) values.push_back(t.*field);
      std::sort(values.begin(), values.end());
      return values[values.size() / 2];
    };
    const double work = static_cast<double>(batch) * (flops.run(static_cast<double>(tokens), 0) + flops.per_unembedding);
    const double count = static_cast<double>(batch * tokens);
    std::printf("forward %ldx%ld %s: %.1f tokens/s, %.1f GFLOP/s = %.1f%% of peak (per CPU second: %.1f tokens/s, "
                "%.1f%% of peak)\n",
                static_cast<long>(batch), static_cast<long>(tokens), dtype_text.c_str(), count / median(&Timing::wall),
                work / median(&Timing::wall) / 1e9, 100.0 * work / median(&Timing::wall) / 1e9 / peak.wall,
                count / median(&Timing::cpu), 100.0 * work / median(&Timing::cpu) / 1e9 / peak.cpu);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const Arguments arguments = parse_arguments(argc, argv);
  io::keep_large_blocks_on_heap();  // as qtalign does
  const c10::InferenceMode inference;
  if (!arguments.forward.empty()) return forward_throughput(arguments);
  const bench::EvaluationSetup setup = bench::evaluation_setup(arguments.threads, arguments.task, arguments.language,
                                                               std::max(arguments.items, arguments.naive_items));
  const int threads = setup.threads;
  const data::TaskProtocol& task = setup.task();
  const std::vector<data::TaskItem>& items = setup.items;
  const tokenizer::Tokenizer& tokenizer = setup.tokenizer;
  const model::ModelConfig config = model::preset_config(arguments.shape);
  const FlopModel flops(config);
  const at::ScalarType optimised_dtype = model::parse_dtype(arguments.optimised_dtype);
  const std::string optimised_name = model::dtype_name(optimised_dtype);
  const at::Device device(arguments.device);

  std::printf("bench_eval: %s/%s, %s shape (random weights), Qwen tokenizer, %d threads, device %s\n",
              arguments.task.c_str(), arguments.language.c_str(), arguments.shape.c_str(), threads,
              device.str().c_str());
  const Timing peak_fp32 = peak_matmul_gflops(at::kFloat, device);
  const Timing peak_optimised =
      optimised_dtype == at::kFloat ? peak_fp32 : peak_matmul_gflops(optimised_dtype, device);
  std::printf("peak matmul GFLOP/s (best of 2048^3, 512x1024x2816, 512x2816x1024), per wall / per CPU second:\n"
              "    fp32 %.1f / %.1f, %s %.1f / %.1f\n",
              peak_fp32.wall, peak_fp32.cpu, optimised_name.c_str(), peak_optimised.wall, peak_optimised.cpu);

  // (a) naive.
  std::vector<std::string> naive_predictions;
  double naive_tokens = 0.0, naive_flops = 0.0;
  Timing naive;
  {
    const model::Model model = model::make_random_model(config, 1, at::kFloat, device);
    std::vector<std::vector<int64_t>> candidates;
    for (const std::string& label : task.labels) candidates.push_back(eval::prefix_sum_candidates(tokenizer, label));
    model::forward(model, {at::ones({1, 8}, at::TensorOptions(at::kLong).device(device)), at::Tensor(), nullptr});
    naive = timed([&] {
      for (int64_t i = 0; i < arguments.naive_items; ++i) {
        const std::vector<int64_t> ids =
            tokenizer.encode(data::evaluation_prompt(task, arguments.language, items[i]), true);
        const at::Tensor input = at::tensor(ids, at::kLong).view({1, -1}).to(device);
        const at::Tensor all_logits =
            model::logits(model, model::forward(model, {input, at::Tensor(), nullptr}).final_hidden);
        const at::Tensor probabilities = at::softmax(all_logits[0][-1], -1).unsqueeze(0).cpu();
        const at::Tensor sums = eval::prefix_sum_scores(probabilities, candidates);
        std::vector<double> scores(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel());
        std::mt19937_64 generator = eval::tie_break_generator(0, task.name, arguments.language, items[i].index);
        naive_predictions.push_back(task.labels[eval::choose_label(scores, generator)]);
        const double tokens = static_cast<double>(ids.size());
        naive_tokens += tokens;
        naive_flops += flops.run(tokens, 0) + tokens * flops.per_unembedding;
      }
    }, device);
  }

  // (b) optimised.
  model::Model model = model::make_random_model(config, 1, optimised_dtype, device);
  model::pack_for_inference(model);
  eval::EvaluationOptions options;
  options.batch_size = arguments.batch_size;
  const std::vector<data::TaskItem> optimised_items(items.begin(), items.begin() + arguments.items);
  const std::vector<data::TaskItem> warm_up_items(items.begin(), items.begin() + std::min<int64_t>(2, arguments.items));
  eval::evaluate_language(model, tokenizer, task, arguments.language, warm_up_items, options);
  eval::LanguageEvaluation result;
  const Timing optimised =
      timed([&] { result = eval::evaluate_language(model, tokenizer, task, arguments.language, optimised_items, options); },
            device);
  double prompt_tokens = 0.0, optimised_flops = flops.run(result.prefix_tokens, 0);
  for (const eval::ItemResult& item : result.items) {
    prompt_tokens += item.prompt_tokens;
    const double past = item.cached ? result.prefix_tokens : 0;
    optimised_flops += flops.run(item.prompt_tokens - past, past) + flops.per_unembedding;
  }

  const auto report = [&](const char* name, const std::string& dtype, int64_t count, double tokens, double work,
                          const Timing& time, const Timing& peak) {
    std::printf("%-14s %-4s %4ld items: %7.3f items/s, %7.1f prompt tokens/s, %6.1f GFLOP/s = %4.1f%% of %s peak"
                " (per CPU second: %.3f items/s, %.1f GFLOP/s = %4.1f%%)\n",
                name, dtype.c_str(), static_cast<long>(count), count / time.wall, tokens / time.wall,
                work / time.wall / 1e9, 100.0 * work / time.wall / 1e9 / peak.wall, dtype.c_str(), count / time.cpu,
                work / time.cpu / 1e9, 100.0 * work / time.cpu / 1e9 / peak.cpu);
  };
  report("(a) naive", "fp32", arguments.naive_items, naive_tokens, naive_flops, naive, peak_fp32);
  report("(b) optimised", optimised_name, arguments.items, prompt_tokens, optimised_flops, optimised, peak_optimised);
  std::printf("    (b) ran %.1f tokens/s through the model (prefix of %ld tokens once, %ld fallbacks, batch %ld)\n",
              result.computed_tokens / optimised.wall, static_cast<long>(result.prefix_tokens),
              static_cast<long>(result.prefix_fallbacks), static_cast<long>(arguments.batch_size));
  std::printf("speedup (b)/(a): %.1fx items/s (per CPU second: %.1fx)\n",
              (arguments.items / optimised.wall) / (arguments.naive_items / naive.wall),
              (arguments.items / optimised.cpu) / (arguments.naive_items / naive.cpu));
  int64_t agree = 0;
  const int64_t shared = std::min(arguments.naive_items, arguments.items);
  for (int64_t i = 0; i < shared; ++i) agree += naive_predictions[i] == result.items[i].prediction;
  std::printf("same prediction (fp32 naive vs %s optimised) on %ld of %ld shared items\n", optimised_name.c_str(),
              static_cast<long>(agree), static_cast<long>(shared));
  if (arguments.profile) {  // a run of its own, so that recording does not slow the timed one
    bench::start_profile();
    eval::evaluate_language(model, tokenizer, task, arguments.language, optimised_items, options);
    bench::print_profile(bench::stop_profile(), arguments.items, "item");
  }
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "bench_eval: %s\n", error.what());
  return 1;
}
