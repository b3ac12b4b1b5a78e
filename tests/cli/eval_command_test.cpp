// End to end: `qtalign eval` and `qtalign compare` on a tiny checkpoint with the real Qwen tokenizer,
// 2 languages x 3 tasks, 10 items each.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <sstream>

#include "eval/eval_test_support.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/provenance.h"
#include "model/lora.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

class EvalCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    model::Model model = testing::tiny_qwen_model();
    testing::write_tiny_checkpoint(model, *temp_ / "model");
    // An adapter that changes the model: PEFT's initialisation (B = 0) with B made non-zero.
    model::LoraConfig lora;
    model::attach_new_lora(model, lora, 3);
    for (const model::NamedLora& attached : model::attached_lora(model)) attached.weights->b.normal_(0.0, 0.5);
    model::save_lora_adapter(model, lora, *temp_ / "adapter");
    baseline_ = new testing::CommandResult(run("--out " + path("base/results.json") + " --predictions " +
                                               path("base/predictions.jsonl")));
  }
  static void TearDownTestSuite() {
    delete baseline_;
    delete temp_;
  }

  static std::string path(const std::string& relative) { return shell_quote((*temp_ / relative).string()); }
  static std::filesystem::path file(const std::string& relative) { return *temp_ / relative; }

  // Runs `qtalign eval` on the tiny checkpoint (or the one in `model`) with `arguments`.
  static testing::CommandResult eval(const std::string& arguments, const std::string& model = "model") {
    return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " eval --model " + path(model) +
                                " --dtype fp32 --threads 2 --data-dir " +
                                shell_quote(testing::shared_data_dir().string()) + " " + arguments + " 2>&1");
  }

  // The run every test shares: en and zh, all tasks, 10 items, zh seen in tuning, plus `extra`.
  static testing::CommandResult run(const std::string& extra) {
    return eval("--task all --langs en,zh --limit 10 --seen zh --batch-size 4 " + extra);
  }

  static const testing::CommandResult& baseline() { return *baseline_; }

 private:
  static testing::TempDir* temp_;
  static testing::CommandResult* baseline_;
};
testing::TempDir* EvalCommand::temp_ = nullptr;
testing::CommandResult* EvalCommand::baseline_ = nullptr;

TEST_F(EvalCommand, WritesResultsWithProvenanceAccuracyAndAverages) {
  ASSERT_EQ(baseline().exit_code, 0) << baseline().output;
  const io::Json results = io::read_json_file(file("base/results.json"));
  EXPECT_EQ(results["format"], "qtalign-eval-results");
  EXPECT_EQ(results["format_version"], 1);

  const io::Json& provenance = results["provenance"];
  EXPECT_EQ(provenance["qtalign_version"], QTALIGN_VERSION);
  EXPECT_EQ(provenance["model"]["path"], std::filesystem::weakly_canonical(file("model")).string());
  EXPECT_EQ(provenance["model"]["config_sha1"], io::file_sha1(file("model/config.json")));
  EXPECT_EQ(provenance["model"]["model_type"], "qwen2");
  EXPECT_TRUE(provenance["adapter"].is_null());
  EXPECT_EQ(provenance["mode"], "prefix-sum");
  EXPECT_EQ(provenance["shots"], (io::Json{{"emotion", 2}, {"paws", 4}, {"snli", 6}}));
  EXPECT_EQ(provenance["seed"], 0);
  EXPECT_EQ(provenance["limit"], 10);
  EXPECT_EQ(provenance["tasks"], io::Json::array({"emotion", "paws", "snli"}));
  EXPECT_EQ(provenance["languages"], io::Json::array({"en", "zh"}));
  EXPECT_EQ(provenance["data"]["prompts_sha1"], io::file_sha1(testing::shared_data_dir() / "prompts.json"));
  ASSERT_EQ(provenance["data"]["files"].size(), 6u);
  EXPECT_EQ(provenance["data"]["files"]["snli/snli_zh600_test.json"],
            io::file_sha1(testing::shared_data_dir() / "snli/snli_zh600_test.json"));
  EXPECT_EQ(provenance["runtime"]["device"], "cpu");
  EXPECT_EQ(provenance["runtime"]["dtype"], "fp32");
  EXPECT_EQ(provenance["runtime"]["threads"], 2);
  EXPECT_EQ(provenance["runtime"]["prefix_cache"], true);
  EXPECT_TRUE(provenance["date"].is_string());
  EXPECT_GT(provenance["wall_time_s"].get<double>(), 0.0);

  const std::vector<io::Json> predictions = io::read_json_records(file("base/predictions.jsonl"));
  ASSERT_EQ(predictions.size(), 60u);
  ASSERT_EQ(results["tasks"].size(), 3u);
  double sum_of_task_averages = 0.0;
  for (const io::Json& task : results["tasks"]) {
    ASSERT_EQ(task["languages"].size(), 2u);
    double sum = 0.0;
    for (const io::Json& language : task["languages"]) {
      const int64_t correct = language["correct"];
      EXPECT_EQ(language["total"], 10);
      // The counts agree with the per-item predictions.
      int64_t counted = 0;
      for (const io::Json& item : predictions)
        if (item["task"] == task["task"] && item["language"] == language["language"])
          counted += item["prediction"] == item["label"] ? 1 : 0;
      EXPECT_EQ(correct, counted);
      const double accuracy = language["accuracy"];
      EXPECT_DOUBLE_EQ(accuracy, correct / 10.0);
      EXPECT_LE(language["ci95"][0].get<double>(), accuracy);
      EXPECT_GE(language["ci95"][1].get<double>(), accuracy);
      EXPECT_EQ(language["prefix_fallbacks"], 0);
      EXPECT_GT(language["prefix_tokens"].get<int64_t>(), 0);
      sum += accuracy;
    }
    EXPECT_DOUBLE_EQ(task["averages"]["all"]["accuracy"].get<double>(), sum / 2);
    EXPECT_DOUBLE_EQ(task["averages"]["seen"]["accuracy"].get<double>(), task["languages"][1]["accuracy"].get<double>());
    EXPECT_EQ(task["averages"]["unseen"]["languages"], io::Json::array({"en"}));
    sum_of_task_averages += sum / 2;
  }
  EXPECT_NEAR(results["averages"]["all"]["accuracy"].get<double>(), sum_of_task_averages / 3, 1e-12);
  // The table went to stdout; the state directory is gone after a finished run.
  EXPECT_NE(baseline().output.find("average unseen"), std::string::npos) << baseline().output;
  EXPECT_FALSE(std::filesystem::exists(file("base/results.json.state")));

  for (const io::Json& item : predictions) {
    // The prediction is the label with the largest summed probability (no exact ties here).
    std::string best;
    double best_score = -1.0;
    for (const auto& [label, score] : item["scores"].items())
      if (score.get<double>() > best_score) best_score = score.get<double>(), best = label;
    EXPECT_EQ(item["prediction"], best);
    EXPECT_EQ(item["prefix_cached"], true);
  }
}

TEST_F(EvalCommand, PrefixCacheGivesTheSamePredictionsAndProbabilities) {
  ASSERT_EQ(baseline().exit_code, 0) << baseline().output;
  const testing::CommandResult uncached =
      run("--no-prefix-cache --out " + path("uncached/results.json") + " --predictions " + path("uncached/predictions.jsonl"));
  ASSERT_EQ(uncached.exit_code, 0) << uncached.output;
  const std::vector<io::Json> cached_items = io::read_json_records(file("base/predictions.jsonl"));
  const std::vector<io::Json> uncached_items = io::read_json_records(file("uncached/predictions.jsonl"));
  ASSERT_EQ(cached_items.size(), uncached_items.size());
  int differing_labels = 0;
  for (size_t i = 0; i < cached_items.size(); ++i) {
    EXPECT_EQ(uncached_items[i]["prefix_cached"], false);
    EXPECT_EQ(cached_items[i]["index"], uncached_items[i]["index"]);
    EXPECT_EQ(cached_items[i]["prediction"], uncached_items[i]["prediction"]);
    for (const auto& [label, score] : cached_items[i]["scores"].items())
      EXPECT_NEAR(score.get<double>(), uncached_items[i]["scores"][label].get<double>(), 1e-5);
    differing_labels += cached_items[i]["prediction"] != cached_items[0]["prediction"];
  }
  EXPECT_GT(differing_labels, 0);  // the model does not predict one label for everything
}

TEST_F(EvalCommand, ResumingAnInterruptedRunGivesTheSameFile) {
  ASSERT_EQ(baseline().exit_code, 0) << baseline().output;
  const std::string outputs = "--out " + path("resumed/results.json") + " --predictions " + path("resumed/predictions.jsonl");
  const testing::CommandResult first = run("--max-pairs 2 " + outputs);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("4 remain"), std::string::npos) << first.output;
  EXPECT_FALSE(std::filesystem::exists(file("resumed/results.json")));
  EXPECT_TRUE(std::filesystem::exists(file("resumed/results.json.state/emotion.en.json")));
  EXPECT_TRUE(std::filesystem::exists(file("resumed/results.json.state/emotion.zh.json")));
  EXPECT_FALSE(std::filesystem::exists(file("resumed/results.json.state/paws.en.json")));

  // Other settings cannot continue this run.
  const testing::CommandResult other = run("--mode sequence " + outputs);
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_NE(other.output.find("--restart"), std::string::npos) << other.output;

  const testing::CommandResult second = run(outputs);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("emotion/en: resumed"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("emotion/zh: resumed"), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("paws/en: resumed"), std::string::npos) << second.output;

  EXPECT_EQ(eval::without_volatile_fields(io::read_json_file(file("resumed/results.json"))),
            eval::without_volatile_fields(io::read_json_file(file("base/results.json"))));
  EXPECT_EQ(io::read_file(file("resumed/predictions.jsonl")), io::read_file(file("base/predictions.jsonl")));
  EXPECT_FALSE(std::filesystem::exists(file("resumed/results.json.state")));
}

// Stopped inside a pair (--max-items): the pair's finished pieces are kept, and the rerun evaluates only
// its other items and writes the files of an uninterrupted run with the same pieces.
TEST_F(EvalCommand, ResumingInsideAPairKeepsItsFinishedItems) {
  const auto arguments = [](int save_every, const std::string& out) {
    return "--task emotion --langs en,zh --limit 10 --seen zh --batch-size 4 --save-every " +
           std::to_string(save_every) + " --out " + path(out + "/results.json") + " --predictions " +
           path(out + "/predictions.jsonl");
  };
  const testing::CommandResult whole = eval(arguments(4, "pieces-whole"));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;

  // Pieces of 4 items: items 0-3 and 4-7 of emotion/en reach 6 items; 2 of its 10 and emotion/zh remain.
  const testing::CommandResult first = eval(arguments(4, "pieces") + " --max-items 6");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("stopped after 6 items (--max-items); 2 remain"), std::string::npos) << first.output;
  EXPECT_FALSE(std::filesystem::exists(file("pieces/results.json")));
  EXPECT_TRUE(std::filesystem::exists(file("pieces/results.json.state/emotion.en.items-0-4.json")));
  EXPECT_TRUE(std::filesystem::exists(file("pieces/results.json.state/emotion.en.items-4-8.json")));
  EXPECT_FALSE(std::filesystem::exists(file("pieces/results.json.state/emotion.en.json")));

  // Pieces are batched on their own: another piece size cannot continue this run.
  const testing::CommandResult other = eval(arguments(5, "pieces"));
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_NE(other.output.find("2 finished piece(s) of unfinished pairs"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find("/runtime/save_every: stored 4, now 5"), std::string::npos) << other.output;

  const testing::CommandResult second = eval(arguments(4, "pieces"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("emotion/en: resumed 8 of 10 items from " + file("pieces/results.json.state").string() +
                               "; evaluating 2 more"),
            std::string::npos)
      << second.output;
  // Its progress line counts only the 2 items evaluated now.
  EXPECT_NE(second.output.find("emotion/en (2 of 10 items): 2/2 items"), std::string::npos) << second.output;
  EXPECT_EQ(eval::without_volatile_fields(io::read_json_file(file("pieces/results.json"))),
            eval::without_volatile_fields(io::read_json_file(file("pieces-whole/results.json"))));
  EXPECT_EQ(io::read_file(file("pieces/predictions.jsonl")), io::read_file(file("pieces-whole/predictions.jsonl")));
  EXPECT_FALSE(std::filesystem::exists(file("pieces/results.json.state")));
}

// Killed at the first write that passes a size limit (SIGXFSZ ends the process on the spot, as
// SIGKILL would), whichever file that is: no output is ever partial under its final name, a full disk
// on the next attempt is a one-line error, and the rerun after both resumes and ends with the files
// of an uninterrupted run.
TEST_F(EvalCommand, KilledWhileWritingLeavesNoPartialFileAndTheRerunMatches) {
  ASSERT_EQ(baseline().exit_code, 0) << baseline().output;
  const std::string expected_predictions = io::read_file(file("base/predictions.jsonl"));
  const io::Json expected_results = eval::without_volatile_fields(io::read_json_file(file("base/results.json")));
  const uint64_t limit = std::filesystem::file_size(file("base/predictions.jsonl")) / 2;
  auto arguments = [&](const std::string& out) {
    return std::vector<std::string>{testing::qtalign_binary().string(), "eval", "--model", file("model").string(),
                                    "--dtype", "fp32", "--threads", "2", "--data-dir",
                                    testing::shared_data_dir().string(), "--task", "all", "--langs", "en,zh",
                                    "--limit", "10", "--seen", "zh", "--batch-size", "4", "--out",
                                    file(out + "/results.json").string(), "--predictions",
                                    file(out + "/predictions.jsonl").string()};
  };
  const testing::CommandResult killed = testing::run_with_file_size_limit(arguments("killed"), limit, false);
  ASSERT_EQ(killed.exit_code, 128 + SIGXFSZ) << killed.output;
  EXPECT_FALSE(std::filesystem::exists(file("killed/predictions.jsonl")));
  if (std::filesystem::exists(file("killed/results.json")))
    EXPECT_EQ(eval::without_volatile_fields(io::read_json_file(file("killed/results.json"))), expected_results);
  bool abandoned = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(file("killed")))
    abandoned |= entry.path().filename().string().find(".tmp-") != std::string::npos;
  EXPECT_TRUE(abandoned);  // the write it was killed in

  // The disk is full when the killed run is resumed: every pair comes from the state, the first
  // output fails to write.
  const testing::CommandResult full = testing::run_with_file_size_limit(arguments("killed"), limit, true);
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_NE(full.output.find("resumed"), std::string::npos) << full.output;
  const std::string last_line = full.output.substr(full.output.rfind('\n', full.output.size() - 2) + 1);
  EXPECT_EQ(last_line.rfind("qtalign: error: " + file("killed").string(), 0), 0u) << full.output;
  EXPECT_NE(last_line.find(": write failed: File too large"), std::string::npos) << full.output;
  EXPECT_FALSE(std::filesystem::exists(file("killed/predictions.jsonl")));

  const testing::CommandResult rerun = testing::run_with_file_size_limit(arguments("killed"), UINT64_MAX, false);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("resumed"), std::string::npos) << rerun.output;
  EXPECT_EQ(io::read_file(file("killed/predictions.jsonl")), expected_predictions);
  EXPECT_EQ(eval::without_volatile_fields(io::read_json_file(file("killed/results.json"))), expected_results);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(file("killed")))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
}

TEST_F(EvalCommand, PromptsLongerThanTheContextAreNamedOrCutFromTheLeft) {
  model::Model model = testing::tiny_qwen_model();
  model.config.max_position_embeddings = 195;
  testing::write_tiny_checkpoint(model, file("short-context"));
  const std::string common = "--model " + path("short-context") +
                             " --dtype fp32 --threads 2 --task snli --langs en --first 3 --data-dir " +
                             shell_quote(testing::shared_data_dir().string());
  const std::string binary = shell_quote(testing::qtalign_binary().string());
  const testing::CommandResult refused =
      testing::run_command(binary + " eval " + common + " --out " + path("long/refused.json"));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  const std::string last_line = refused.output.substr(refused.output.rfind('\n', refused.output.size() - 2) + 1);
  EXPECT_EQ(last_line.rfind("qtalign: error: snli/en item 0: the prompt and its longest label take ", 0), 0u)
      << refused.output;
  EXPECT_NE(last_line.find("more than the model's context of 195"), std::string::npos) << refused.output;
  EXPECT_FALSE(std::filesystem::exists(file("long/refused.json")));

  const testing::CommandResult cut =
      testing::run_command(binary + " eval " + common + " --truncate left --out " + path("long/cut.json"));
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_NE(cut.output.find("snli/en: 3 of 3 prompts cut from the left to fit the context of 195 tokens"),
            std::string::npos)
      << cut.output;
  const io::Json results = io::read_json_file(file("long/cut.json"));
  EXPECT_EQ(results["provenance"]["truncate"], "left");
  EXPECT_EQ(results["tasks"][0]["languages"][0]["total"], 3);
}

TEST_F(EvalCommand, AdapterRunAndComparison) {
  ASSERT_EQ(baseline().exit_code, 0) << baseline().output;
  const testing::CommandResult tuned = run("--adapter " + path("adapter") + " --out " + path("tuned/results.json"));
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  const io::Json tuned_results = io::read_json_file(file("tuned/results.json"));
  EXPECT_EQ(tuned_results["provenance"]["adapter"]["weights_sha1"],
            io::file_sha1(file("adapter/adapter_model.safetensors")));

  const testing::CommandResult compare = testing::run_command(
      shell_quote(testing::qtalign_binary().string()) + " compare " + path("base/results.json") + " " +
      path("tuned/results.json") + " --out " + path("compare/cmp") + " 2>&1");
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  EXPECT_NE(compare.output.find("| zh |"), std::string::npos) << compare.output;
  for (const std::string name : {"cmp.md", "cmp.json", "cmp_emotion.png", "cmp_emotion.svg", "cmp_paws.png",
                                 "cmp_snli.svg"})
    EXPECT_TRUE(std::filesystem::exists(file("compare/" + name))) << name;

  const io::Json base_results = io::read_json_file(file("base/results.json"));
  const io::Json comparison = io::read_json_file(file("compare/cmp.json"));
  EXPECT_EQ(comparison["seen_languages"], io::Json::array({"zh"}));
  ASSERT_EQ(comparison["tasks"].size(), 3u);
  for (size_t t = 0; t < 3; ++t)
    for (size_t l = 0; l < 2; ++l) {
      const double before = base_results["tasks"][t]["languages"][l]["accuracy"];
      const double after = tuned_results["tasks"][t]["languages"][l]["accuracy"];
      const io::Json& row = comparison["tasks"][t]["languages"][l];
      EXPECT_DOUBLE_EQ(row["base"].get<double>(), before);
      EXPECT_DOUBLE_EQ(row["tuned"].get<double>(), after);
      EXPECT_NEAR(row["delta"].get<double>(), after - before, 1e-12);
      EXPECT_EQ(row["improved"], after > before);
    }
}

TEST_F(EvalCommand, AnswerTypesAndZeroShotsAreRecordedAndNotComparedAcross) {
  ASSERT_EQ(baseline().exit_code, 0) << baseline().output;
  const testing::CommandResult same = eval("--task emotion --langs en,zh --limit 10 --seen zh --batch-size 4 --labels "
                                           "same-language --out " + path("same/results.json"));
  ASSERT_EQ(same.exit_code, 0) << same.output;
  const io::Json same_results = io::read_json_file(file("same/results.json"));
  EXPECT_EQ(same_results["provenance"]["answer_type"], "same-language");
  EXPECT_EQ(io::read_json_file(file("base/results.json"))["provenance"]["answer_type"], "english");
  EXPECT_NE(same.output.find("average high-resource"), std::string::npos) << same.output;

  const testing::CommandResult compare = testing::run_command(
      shell_quote(testing::qtalign_binary().string()) + " compare " + path("base/results.json") + " " +
      path("same/results.json") + " --out " + path("mixed/cmp") + " 2>&1");
  EXPECT_EQ(compare.exit_code, 1);
  EXPECT_NE(compare.output.find("wrote its answers as 'english' labels but"), std::string::npos) << compare.output;
  EXPECT_FALSE(std::filesystem::exists(file("mixed/cmp.json")));

  const testing::CommandResult zero =
      eval("--task emotion --langs th --limit 2 --shots 0 --labels same-language --out " + path("zero/results.json"));
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  const io::Json zero_results = io::read_json_file(file("zero/results.json"));
  EXPECT_EQ(zero_results["provenance"]["shots"], (io::Json{{"emotion", 0}}));
  EXPECT_EQ(zero_results["tasks"][0]["shots"], 0);
  EXPECT_EQ(zero_results["provenance"]["answer_type"], "same-language");
  // Task-agnostic words mean the labels only through demonstrations: without any they are refused.
  const testing::CommandResult agnostic =
      eval("--task emotion --langs th --limit 2 --shots 0 --labels task-agnostic --out " + path("zero/agnostic.json"));
  EXPECT_EQ(agnostic.exit_code, 1);
  EXPECT_NE(agnostic.output.find("answer type task-agnostic needs demonstrations"), std::string::npos)
      << agnostic.output;
  EXPECT_FALSE(std::filesystem::exists(file("zero/agnostic.json")));

  // Tasks without such answers are refused before any work.
  const testing::CommandResult refused = eval("--task all --langs en --labels same-language --out " + path("bad/same.json"));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("answer type same-language is not available for paws/en"), std::string::npos)
      << refused.output;
  EXPECT_FALSE(std::filesystem::exists(file("bad/same.json")));
  const testing::CommandResult unknown = eval("--labels native --out " + path("bad/native.json"));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("unknown answer type 'native'"), std::string::npos) << unknown.output;
}

// Outputs that cannot be written are refused before the model loads, not after all the compute. The
// weights of this checkpoint cannot be read, so an error about an output came before they were touched.
TEST_F(EvalCommand, UnwritableOutputsAreRefusedBeforeTheModelLoads) {
  std::filesystem::create_directories(file("unreadable"));
  for (const std::string name : {"config.json", "tokenizer.json"})
    std::filesystem::copy_file(file("model/" + name), file("unreadable/" + name));
  io::write_file_atomically(file("unreadable/model.safetensors"), "not a safetensors file");
  const auto run_on_unreadable = [](const std::string& outputs) {
    return eval("--task emotion --langs en --limit 2 " + outputs, "unreadable");
  };
  const testing::CommandResult weights = run_on_unreadable("--out " + path("outputs/results.json"));
  EXPECT_EQ(weights.exit_code, 1);
  EXPECT_NE(weights.output.find("model.safetensors"), std::string::npos) << weights.output;

  std::filesystem::create_directories(file("outputs/a directory"));
  io::write_file_atomically(file("outputs/a file"), "");
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"--out " + path("outputs/a directory"), "is a directory"},
      {"--out " + path("outputs/results.json") + " --predictions " + path("outputs/a directory"), "is a directory"},
      {"--out " + path("outputs/a file/results.json"), "is not a directory"},
      {"--out " + path("outputs/results.json") + " --predictions " + path("outputs/a file/predictions.jsonl"),
       "is not a directory"}};
  for (const auto& [outputs, problem] : refused) {
    const testing::CommandResult result = run_on_unreadable(outputs);
    EXPECT_EQ(result.exit_code, 1) << outputs;
    EXPECT_NE(result.output.find(problem), std::string::npos) << outputs << ": " << result.output;
    EXPECT_NE(result.output.find(file("outputs").string()), std::string::npos) << outputs << ": " << result.output;
    EXPECT_EQ(result.output.find("model.safetensors"), std::string::npos) << outputs << ": " << result.output;
  }
  EXPECT_FALSE(std::filesystem::exists(file("outputs/a directory.state")));
}

TEST_F(EvalCommand, BadInputEndsInOneLineAndExitCodeOne) {
  const testing::CommandResult unknown_task = eval("--task sentiment --out " + path("bad/results.json"));
  EXPECT_EQ(unknown_task.exit_code, 1);
  EXPECT_NE(unknown_task.output.find("sentiment"), std::string::npos) << unknown_task.output;
  const testing::CommandResult unknown_language = eval("--langs en,xx --out " + path("bad/results.json"));
  EXPECT_EQ(unknown_language.exit_code, 1);
  EXPECT_NE(unknown_language.output.find("xx"), std::string::npos) << unknown_language.output;
  const testing::CommandResult not_results = testing::run_command(
      shell_quote(testing::qtalign_binary().string()) + " compare " +
      shell_quote((testing::shared_data_dir() / "prompts.json").string()) + " " + path("base/results.json") + " 2>&1");
  EXPECT_EQ(not_results.exit_code, 1);
  EXPECT_NE(not_results.output.find("prompts.json"), std::string::npos) << not_results.output;
}

}  // namespace
}  // namespace qtalign
