// An evaluation spec and the `qtalign eval` command line that asks for it: eval::command_line renders
// a spec as the words a user would type, and the command's own options parse them back into the same
// spec (cli::parse_eval_spec), so the library and the command cannot drift apart.
#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "cli/commands.h"
#include "eval/evaluation_run.h"
#include "io/error.h"

namespace qtalign {
namespace {

using Words = std::vector<std::string>;

// Every field of the two specs is the same.
void expect_same_spec(const eval::EvaluationSpec& expected, const eval::EvaluationSpec& parsed) {
  EXPECT_EQ(parsed.source.model_dir, expected.source.model_dir);
  EXPECT_EQ(parsed.source.tokenizer_file, expected.source.tokenizer_file);
  EXPECT_EQ(parsed.source.adapter_dir, expected.source.adapter_dir);
  EXPECT_EQ(parsed.source.hash_weights, expected.source.hash_weights);
  EXPECT_EQ(parsed.data_dir, expected.data_dir);
  EXPECT_EQ(parsed.tasks_dir, expected.tasks_dir);
  EXPECT_EQ(parsed.out, expected.out);
  EXPECT_EQ(parsed.predictions, expected.predictions);
  EXPECT_EQ(parsed.eval_splits, expected.eval_splits);
  EXPECT_EQ(parsed.task, expected.task);
  EXPECT_EQ(parsed.languages, expected.languages);
  EXPECT_EQ(parsed.mode, expected.mode);
  EXPECT_EQ(parsed.answer_type, expected.answer_type);
  EXPECT_EQ(parsed.shots, expected.shots);
  EXPECT_EQ(parsed.limit.count, expected.limit.count);
  EXPECT_EQ(parsed.limit.pick, expected.limit.pick);
  EXPECT_EQ(parsed.limit.seed, expected.limit.seed);
  EXPECT_EQ(parsed.seed, expected.seed);
  EXPECT_EQ(parsed.seen, expected.seen);
  EXPECT_EQ(parsed.batch_size, expected.batch_size);
  EXPECT_EQ(parsed.prefix_cache, expected.prefix_cache);
  EXPECT_EQ(parsed.truncate_left, expected.truncate_left);
  EXPECT_EQ(parsed.restart, expected.restart);
  EXPECT_EQ(parsed.max_pairs, expected.max_pairs);
  EXPECT_EQ(parsed.max_items, expected.max_items);
  EXPECT_EQ(parsed.save_every, expected.save_every);
  EXPECT_EQ(parsed.compute.device, expected.compute.device);
  EXPECT_EQ(parsed.compute.dtype, expected.compute.dtype);
  EXPECT_EQ(parsed.compute.quantization.type, expected.compute.quantization.type);
  EXPECT_EQ(parsed.compute.quantization.blocksize, expected.compute.quantization.blocksize);
  EXPECT_EQ(parsed.compute.quantization.double_quant, expected.compute.quantization.double_quant);
  EXPECT_EQ(parsed.compute.threads, expected.compute.threads);
}

// A spec with only what every evaluation needs; the rest at the defaults.
eval::EvaluationSpec minimal_spec() {
  eval::EvaluationSpec spec;
  spec.source.model_dir = "models/qwen";
  spec.out = "eval/base.json";
  return spec;
}

// The spec as a study's tuned evaluation asks for it.
eval::EvaluationSpec study_spec() {
  eval::EvaluationSpec spec = minimal_spec();
  spec.source.adapter_dir = "study/adapter";
  spec.out = "study/eval/tuned.json";
  spec.predictions = "study/eval/tuned.predictions.jsonl";
  spec.eval_splits = {"study/data/evaluation_split.json"};
  spec.task = "emotion";
  spec.languages = "en,zh,de";
  spec.answer_type = data::AnswerType::same_language;
  spec.shots = 0;
  spec.seed = 3;
  spec.limit = {16, data::ItemPick::balanced, 3};
  spec.seen = {"zh", "de"};
  return spec;
}

// Every option away from its default.
eval::EvaluationSpec full_spec() {
  eval::EvaluationSpec spec = study_spec();
  spec.source.tokenizer_file = "tokenizers/with space/tokenizer.json";
  spec.source.hash_weights = true;
  spec.data_dir = "/data/benchmarks";
  spec.tasks_dir = "/data/my tasks";
  spec.eval_splits.push_back("study/data/snli_split.json");
  spec.task = "all";
  spec.mode = eval::ScoringMode::sequence;
  spec.shots = 3;
  spec.seed = 11;
  spec.limit = {40, data::ItemPick::balanced, 11};
  spec.batch_size = 3;
  spec.prefix_cache = false;
  spec.truncate_left = true;
  spec.restart = true;
  spec.max_pairs = 2;
  spec.max_items = 50;
  spec.save_every = 0;
  spec.compute.device = at::Device("cuda:1");
  spec.compute.dtype = at::kBFloat16;
  spec.compute.quantization.type = model::QuantType::nf4;
  spec.compute.quantization.blocksize = 128;
  spec.compute.quantization.double_quant = true;
  spec.compute.threads = 3;
  return spec;
}

// The first items instead of a sample, fp4 without double quantization, fp16 on a GPU.
eval::EvaluationSpec first_items_spec() {
  eval::EvaluationSpec spec = minimal_spec();
  spec.answer_type = data::AnswerType::task_agnostic;
  spec.languages = "th";
  spec.limit = {5, data::ItemPick::first, 0};
  spec.compute.device = at::Device("cuda");
  spec.compute.dtype = at::kHalf;
  spec.compute.quantization.type = model::QuantType::fp4;
  spec.compute.quantization.blocksize = 32;
  return spec;
}

TEST(EvalSpec, TheCommandLineParsesBackIntoTheSameSpec) {
  for (const eval::EvaluationSpec& spec : {minimal_spec(), study_spec(), full_spec(), first_items_spec()}) {
    const Words words = eval::command_line(spec);
    SCOPED_TRACE(::testing::PrintToString(words));
    expect_same_spec(spec, cli::parse_eval_spec(words));
  }
}

TEST(EvalSpec, TheCommandLineIsWhatAUserWouldType) {
  EXPECT_EQ(eval::command_line(minimal_spec()),
            (Words{"eval", "--model", "models/qwen", "--out", "eval/base.json", "--threads", "0", "--device", "cpu",
                   "--dtype", "fp32"}));
  EXPECT_EQ(eval::command_line(study_spec()),
            (Words{"eval", "--model", "models/qwen", "--adapter", "study/adapter", "--task", "emotion", "--langs",
                   "en,zh,de", "--labels", "same-language", "--shots", "0", "--eval-split",
                   "study/data/evaluation_split.json", "--seed", "3", "--seen", "zh,de", "--out",
                   "study/eval/tuned.json", "--predictions", "study/eval/tuned.predictions.jsonl", "--limit", "16",
                   "--threads", "0", "--device", "cpu", "--dtype", "fp32"}));
  EXPECT_EQ(eval::command_line(first_items_spec()),
            (Words{"eval", "--model", "models/qwen", "--langs", "th", "--labels", "task-agnostic", "--out",
                   "eval/base.json", "--first", "5", "--threads", "0", "--device", "cuda", "--dtype", "fp16",
                   "--quantize", "fp4", "--quant-blocksize", "32"}));
}

TEST(EvalSpec, TheCommandLineParsesAsTheCommandDoes) {
  // What a user types by hand: the dtype resolved, the --seen list kept as written, the sample's seed --seed.
  const eval::EvaluationSpec spec = cli::parse_eval_spec(
      {"eval", "--model", "m", "--out", "r.json", "--limit", "8", "--seed", "5", "--seen", "zh,de", "--dtype", "fp32",
       "--no-prefix-cache", "--truncate", "left"});
  EXPECT_EQ(spec.compute.dtype, at::kFloat);
  EXPECT_EQ(spec.seen, (Words{"zh", "de"}));
  EXPECT_EQ(spec.limit.count, 8u);
  EXPECT_EQ(spec.limit.pick, data::ItemPick::balanced);
  EXPECT_EQ(spec.limit.seed, 5u);
  EXPECT_FALSE(spec.prefix_cache);
  EXPECT_TRUE(spec.truncate_left);
  EXPECT_THROW(cli::parse_eval_spec({"eval", "--model", "m", "--out", "r.json", "--mode", "greedy"}), Error);
  // A --seen list keeps every word as written, an empty one too.
  EXPECT_EQ(cli::parse_eval_spec({"eval", "--model", "m", "--out", "r.json", "--seen", ",zh,"}).seen,
            (Words{"", "zh", ""}));
  EXPECT_THROW(cli::parse_eval_spec({"eval", "--model", "m", "--out", "r.json", "--limit", "3", "--first", "2"}),
               CLI::ParseError);
}

TEST(EvalSpec, ASampleNoCommandLineDrawsIsRefused) {
  eval::EvaluationSpec spec = study_spec();
  spec.limit.seed = 4;  // --limit draws with --seed, which is 3
  EXPECT_THROW(eval::command_line(spec), Error);
}

}  // namespace
}  // namespace qtalign
