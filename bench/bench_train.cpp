// LoRA training throughput on the shape of Qwen1.5-0.5B (random weights) with real question-translation
// examples (snli zh, the Qwen tokenizer) with the study's micro-batch 4 x accumulation 4: training tokens/s
// in bf16 and fp32, the fraction of the peak matmul rate measured in the same run (the better of a
// measurement before and one after training, so a busy machine does not flatter the fraction), the
// padding the micro-batches carry, the peak resident set of the training, and with --profile 1 where
// the time goes (self CPU time per operator from the autograd profiler, every step included).
//
// Training FLOPs per step: the forward pass (2 x in x out per linear layer and real token, causal
// attention 2 x 2 x head_dim x position per head, the lm_head at the target positions only) plus its
// backward without the frozen weights' gradients: the input gradients cost as much again, attention
// twice its forward; LoRA weights add 3 x their forward. So about 2x the forward FLOPs, not 3x.
//
//   bench_train [--steps 3] [--batch 4] [--accum 4] [--pass-positions -1] [--examples 64] [--threads 0]
//               [--dtype both|bf16|fp32]
//               [--profile 0|1] [--model DIR [--quantize nf4|fp4]] [--device cpu|cuda]
// --model trains on a checkpoint on disk instead of the random 0.5B shape; --quantize loads its linear
// weights 4-bit (QLoRA: LoRA on the frozen quantized base).
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "benchmark_setup.h"
#include "operator_profile.h"
#include "data/question_translation.h"
#include "io/heap_policy.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/random_model.h"
#include "tokenizer/tokenizer.h"
#include "train/batching.h"
#include "distributed/process_group.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace {

using namespace qtalign;

struct Settings {
  int64_t steps = 3;
  int64_t batch = 4;
  int64_t accum = 4;
  int64_t pass_positions = train::TrainingSettings{}.pass_positions;
  int64_t examples = 64;
  int threads = 0;
  std::string dtype = "both";
  bool profile = false;
  std::string model_dir;          // empty = the random Qwen1.5-0.5B shape
  std::string quantize = "none";  // with model_dir: none, nf4 or fp4
  std::string device = "cpu";
};

model::Model training_model(const Settings& settings, at::ScalarType dtype) {
  const at::Device device(settings.device);
  if (settings.model_dir.empty()) return model::make_random_model(model::qwen1_5_0_5b_shape_config(), 0, dtype, device);
  model::LoadOptions options;
  options.dtype = dtype;
  options.device = device;
  if (settings.quantize != "none") options.quantization.type = model::parse_quant_type(settings.quantize);
  return model::load_model(settings.model_dir, options);
}

// Training FLOPs of one micro-batch (see the file comment).
double training_flops(const model::ModelConfig& config, const model::LoraConfig& lora,
                      const std::vector<train::TokenizedExample>& examples, const std::vector<int64_t>& indices) {
  const double d = config.hidden_size, q = config.num_attention_heads * config.head_dim,
               kv = config.num_key_value_heads * config.head_dim, ff = config.intermediate_size;
  const double linear_per_token = 2.0 * (d * q + 2 * d * kv + q * d + 3 * d * ff);
  const double lora_per_token = 2.0 * lora.r * ((d + q) + (d + kv));  // q_proj and v_proj
  double forward = 0.0, attention = 0.0, lora_flops = 0.0;
  for (int64_t index : indices) {
    const double tokens = double(examples[index].input_ids.size());
    forward += config.num_hidden_layers * linear_per_token * tokens;
    forward += 2.0 * d * config.vocab_size * examples[index].target_tokens();
    attention += config.num_hidden_layers * config.num_attention_heads * 4.0 * config.head_dim * tokens * (tokens + 1) / 2;
    lora_flops += config.num_hidden_layers * lora_per_token * tokens;
  }
  return 2.0 * forward + 3.0 * attention + 3.0 * lora_flops;
}

void run(at::ScalarType dtype, const Settings& settings, const std::vector<train::TokenizedExample>& examples) {
  const at::Device device(settings.device);
  const double peak_before = bench::peak_matmul_gflops(dtype, device).wall * 1e9;
  model::Model model = training_model(settings, dtype);
  const model::ModelConfig config = model.config;
  train::TrainingSettings options;
  options.epochs = 1;
  options.micro_batch = settings.batch;
  options.grad_accum = settings.accum;
  options.pass_positions = settings.pass_positions;
  options.lr = 1e-4;
  options.warmup_ratio = 0.0;
  options.eval_every = 0;
  options.save_every = 0;
  const model::LoraConfig lora = train::lora_config(options, "");
  // One epoch of exactly `steps + 1` steps; the first warms up allocators and caches.
  const int64_t used = std::min<int64_t>(examples.size(), (settings.steps + 1) * settings.batch * settings.accum);
  const std::vector<train::TokenizedExample> train_set(examples.begin(), examples.begin() + used);
  char directory_template[] = "/tmp/qtalign-bench-train-XXXXXX";
  const std::filesystem::path out = ::mkdtemp(directory_template);
  distributed::ProcessGroup group;
  bench::reset_peak_rss();
  const int64_t resident_with_model = bench::status_bytes("VmRSS");
  if (settings.profile) bench::start_profile();
  train::train_lora(model, options, train_set, {}, {out, "", false, false}, group);
  bench::OperatorTimes profile;
  if (settings.profile) profile = bench::stop_profile();
  const int64_t peak_resident = bench::status_bytes("VmHWM");
  const double peak = std::max(peak_before, bench::peak_matmul_gflops(dtype, device).wall * 1e9);

  const train::BatchLayout layout{used, settings.batch, settings.accum, 1, options.seed};
  std::ifstream log(out / "training_log.jsonl");
  double seconds = 0.0, flops = 0.0, tokens = 0.0, positions = 0.0;
  int64_t step = 0;
  for (std::string line; std::getline(log, line); ++step) {
    if (step == 0) continue;
    const io::Json record = io::Json::parse(line);
    const auto micro_batches = train::step_micro_batches(layout, train_set, step);
    double step_tokens = 0.0, step_flops = 0.0;
    for (const auto& indices : micro_batches) {
      size_t longest = 0;
      for (int64_t index : indices) {
        step_tokens += double(train_set[index].input_ids.size());
        longest = std::max(longest, train_set[index].input_ids.size());
      }
      positions += double(longest * indices.size());
      step_flops += training_flops(config, lora, train_set, indices);
    }
    seconds += step_tokens / record["tokens_per_second"].get<double>();
    tokens += step_tokens;
    flops += step_flops;
  }
  std::filesystem::remove_all(out);
  const double rate = flops / seconds;
  std::printf("%-5s %3lld steps x %lld x %lld examples: %8.1f training tokens/s  %7.1f GFLOP/s  peak matmul %7.1f "
              "GFLOP/s  -> %5.1f%% of peak  (padding %.1f%% of positions; peak RSS %.2f GiB, %.2f GiB over the model)\n",
              model::dtype_name(dtype).c_str(), static_cast<long long>(step - 1), static_cast<long long>(settings.batch),
              static_cast<long long>(settings.accum), tokens / seconds, rate / 1e9, peak / 1e9, 100.0 * rate / peak,
              100.0 * (1.0 - tokens / positions), double(peak_resident) / (1 << 30),
              double(peak_resident - resident_with_model) / (1 << 30));
  if (settings.profile) bench::print_profile(profile, step, "step");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i], value = argv[i + 1];
    if (option == "--steps") settings.steps = std::atoll(value.c_str());
    else if (option == "--batch") settings.batch = std::atoll(value.c_str());
    else if (option == "--accum") settings.accum = std::atoll(value.c_str());
    else if (option == "--pass-positions") settings.pass_positions = std::atoll(value.c_str());
    else if (option == "--profile") settings.profile = std::atoi(value.c_str()) != 0;
    else if (option == "--examples") settings.examples = std::atoll(value.c_str());
    else if (option == "--threads") settings.threads = std::atoi(value.c_str());
    else if (option == "--dtype") settings.dtype = value;
    else if (option == "--model") settings.model_dir = value;
    else if (option == "--quantize") settings.quantize = value;
    else if (option == "--device") settings.device = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", option.c_str());
      return 2;
    }
  }
  io::keep_large_blocks_on_heap();  // as qtalign does
  bench::use_threads(settings.threads);
  try {
    const std::filesystem::path source = QTALIGN_SOURCE_DIR;
    const auto tokenizer = tokenizer::Tokenizer::from_file(bench::qwen_tokenizer_file());
    std::vector<data::QuestionTranslationExample> raw =
        data::read_examples(source / "../shared/data/snli/snli_zh10k_train_question.json");
    std::vector<train::TokenizedExample> examples;
    double length = 0.0;
    for (size_t i = 0; i < raw.size() && int64_t(examples.size()) < settings.examples; ++i) {
      examples.push_back(train::tokenize_example(tokenizer, train::PromptTemplate::plain, {raw[i].input, raw[i].target},
                                                 151643));
      length += double(examples.back().input_ids.size());
    }
    std::printf("bench_train: %s (linear weights: %s), LoRA r 8 on q_proj,v_proj, %zu snli zh question-translation examples "
                "(mean %.0f tokens), %d threads, micro-batches run together in passes of up to %s positions\n",
                settings.model_dir.empty() ? "Qwen1.5-0.5B shape" : settings.model_dir.c_str(), settings.quantize.c_str(),
                examples.size(), length / double(examples.size()), at::get_num_threads(),
                settings.pass_positions == train::kModelScaledPassPositions
                    ? "the model's default (2048 on the 0.5B shape)"
                    : std::to_string(settings.pass_positions).c_str());
    for (const at::ScalarType dtype : {at::kBFloat16, at::kFloat}) {
      if (settings.dtype != "both" && settings.dtype != model::dtype_name(dtype)) continue;
      run(dtype, settings, examples);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
