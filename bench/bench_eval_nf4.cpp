// Few-shot evaluation of a checkpoint on disk with dense weights and with 4-bit (NF4) weights, in one
// run, with real benchmark prompts and the Qwen tokenizer: for each mode, the load time, items/s (wall and per
// CPU second) of eval::evaluate_language and the peak resident set (VmHWM, reset before the mode's load, so it
// covers loading and evaluating) plus, at the end, the whole process's VmHWM. Dense weights in the
// compute dtype stay memory-mapped; NF4 quantizes each linear weight while loading and releases its
// pages. Make the checkpoint with bench/random_checkpoint.py (see BENCHMARKS.md).
//
// Usage: bench_eval_nf4 --model DIR [--modes bf16,nf4] (also fp32, nf4-fp32, fp4, fp4-fp32) [--task snli] [--lang en] [--items 16]
//                       [--batch-size 8] [--threads N]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmark_setup.h"
#include "eval/evaluator.h"
#include "model/checkpoint.h"
#include "model/packed_linear.h"

namespace {

using namespace qtalign;
using bench::Clock;

struct Arguments {
  std::string model;
  std::vector<std::string> modes = {"bf16", "nf4"};
  std::string task = "snli";
  std::string language = "en";
  int64_t items = 16;
  int64_t batch_size = 8;
  int threads = 0;
};

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> parts;
  std::stringstream stream(list);
  for (std::string part; std::getline(stream, part, ',');) parts.push_back(part);
  return parts;
}

Arguments parse_arguments(int argc, char** argv) {
  if (argc % 2 == 0) throw std::runtime_error("options come in pairs: --name value");
  Arguments arguments;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--model") arguments.model = value;
    else if (name == "--modes") arguments.modes = split(value);
    else if (name == "--task") arguments.task = value;
    else if (name == "--lang") arguments.language = value;
    else if (name == "--items") arguments.items = std::stoll(value);
    else if (name == "--batch-size") arguments.batch_size = std::stoll(value);
    else if (name == "--threads") arguments.threads = std::stoi(value);
    else throw std::runtime_error("unknown option " + name);
  }
  if (arguments.model.empty()) throw std::runtime_error("--model DIR is required");
  return arguments;
}

double gib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

// The load options of a mode: "bf16" / "fp32" dense, "nf4" / "fp4" 4-bit with bf16 compute, and
// "nf4-fp32" / "fp4-fp32" 4-bit with fp32 compute (for CPUs without bf16 instructions).
model::LoadOptions load_options(const std::string& mode) {
  model::LoadOptions options;
  const size_t dash = mode.find('-');
  const std::string weights = mode.substr(0, dash);
  const std::string compute = dash == std::string::npos ? (weights == "fp32" ? "fp32" : "bf16") : mode.substr(dash + 1);
  if (compute != "bf16" && compute != "fp32") throw std::runtime_error("unknown mode " + mode);
  options.dtype = compute == "fp32" ? at::kFloat : at::kBFloat16;
  if (weights == "nf4" || weights == "fp4") options.quantization.type = model::parse_quant_type(weights);
  else if ((weights != "bf16" && weights != "fp32") || dash != std::string::npos)
    throw std::runtime_error("unknown mode " + mode);
  return options;
}

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
  std::printf("bench_eval_nf4: %s, %s/%s, %ld items, batch %ld, %d threads\n", arguments.model.c_str(),
              arguments.task.c_str(), arguments.language.c_str(), static_cast<long>(arguments.items),
              static_cast<long>(arguments.batch_size), threads);

  eval::EvaluationOptions options;
  options.batch_size = arguments.batch_size;
  std::vector<double> rates, cpu_rates;
  for (const std::string& mode : arguments.modes) {
    bench::reset_peak_rss();
    const int64_t rss_before = bench::status_bytes("VmRSS");
    const auto load_start = Clock::now();
    double rate = 0.0, cpu_rate = 0.0;
    {
      model::Model model = model::load_model(arguments.model, load_options(mode));
      model::pack_for_inference(model);
      const double load_seconds = bench::seconds_since(load_start);
      const int64_t rss_loaded = bench::status_bytes("VmRSS");
      const auto start = Clock::now();
      const double cpu_start = bench::cpu_seconds();
      const eval::LanguageEvaluation result =
          eval::evaluate_language(model, tokenizer, task, arguments.language, items, options);
      const double seconds = bench::seconds_since(start), cpu_seconds = bench::cpu_seconds() - cpu_start;
      const auto count = static_cast<double>(result.items.size());
      rate = count / seconds;
      cpu_rate = count / cpu_seconds;
      std::printf("%-5s load %6.1f s (RSS %.2f GiB)  eval %ld items in %6.1f s = %.3f items/s, %.3f per CPU s "
                  "(%ld tokens)  peak RSS %.2f GiB (before load %.2f GiB)\n",
                  mode.c_str(), load_seconds, gib(rss_loaded), static_cast<long>(result.items.size()), seconds, rate,
                  cpu_rate, static_cast<long>(result.computed_tokens), gib(bench::status_bytes("VmHWM")),
                  gib(rss_before));
    }
    rates.push_back(rate);
    cpu_rates.push_back(cpu_rate);
  }
  for (size_t i = 1; i < rates.size(); ++i)
    std::printf("%s / %s items/s = %.2f, per CPU second %.2f\n", arguments.modes[i].c_str(), arguments.modes[0].c_str(),
                rates[i] / rates[0], cpu_rates[i] / cpu_rates[0]);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "bench_eval_nf4: %s\n", error.what());
  return 1;
}
