// The one-command study end to end: `qtalign run` on the demo model with small limits, its outputs,
// resumption, the settings check, the report rendered in a real headless Chromium, and the default
// demo's tuning moving its predictions.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kLensLanguages = {"zh", "ru"};
const std::vector<std::string> kPcaLanguages = {"en", "zh", "de"};

std::string run_line(const fs::path& out, const std::string& extra = "") {
  return testing::shell_quote(testing::qtalign_binary().string()) + " run --out " + testing::shell_quote(out.string()) +
         " --eval-task emotion --eval-langs en,zh,de --eval-limit 4 --analysis-limit 6 --lens-langs zh,ru"
         " --pca-langs en,zh,de --pca-layers 0,2,4 --size 16 --epochs 1 --batch 4 --grad-accum 1 --threads 2 " +
         extra + " 2>&1";
}

class StudyRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = std::make_unique<testing::TempDir>();
    first_ = testing::run_command(run_line(study()));
  }
  static void TearDownTestSuite() { directory_.reset(); }
  static fs::path study() { return directory_->path() / "study"; }
  static json read_json(const fs::path& file) { return json::parse(io::read_file(file)); }

  static std::unique_ptr<testing::TempDir> directory_;
  static testing::CommandResult first_;
};

std::unique_ptr<testing::TempDir> StudyRun::directory_;
testing::CommandResult StudyRun::first_;

TEST_F(StudyRun, RunsEveryStageAndSaysTheDemoIsChanceLevel) {
  ASSERT_EQ(first_.exit_code, 0) << first_.output;
  EXPECT_NE(first_.output.find("random weights"), std::string::npos);
  EXPECT_NE(first_.output.find("not the study's results"), std::string::npos);
  EXPECT_NE(first_.output.find("[13/13] report"), std::string::npos) << first_.output;
  for (const char* file : {"model/config.json", "model/tokenizer.json", "data/train.jsonl", "data/evaluation_split.json",
                           "eval/base.json", "eval/base.md", "eval/tuned.json", "adapter/adapter_config.json",
                           "adapter/adapter_model.safetensors", "adapter/training_summary.json", "adapter/loss.png",
                           "compare/compare.json", "compare/compare.md", "compare/compare_emotion.png",
                           "lens/base/summary.json", "lens/tuned/overview_latent.png", "lens/comparison/zh.png", "pca/base/representations.json",
                           "pca/tuned/layer_04.svg", "pca/cosine_comparison.png", "pca/cosine_comparison.csv",
                           "pca/pair_correlation_comparison.md", "pca/pair_correlation_layer_04.png",
                           "report.html", "report.md", "study.json"})
    EXPECT_TRUE(fs::is_regular_file(study() / file)) << file;
  const json record = read_json(study() / "study.json");
  EXPECT_TRUE(record["demo"].get<bool>());
  EXPECT_EQ(record["settings"]["dtype"], "fp32");  // the demo's default, on CPUs with bf16 kernels too
  EXPECT_EQ(record["stages"].size(), 12u);  // every stage but the report
  for (const auto& [name, stage] : record["stages"].items()) EXPECT_EQ(stage["status"], "done") << name;
  EXPECT_NE(record["stages"]["eval: tuned model"]["command"].get<std::string>().find("--adapter"), std::string::npos);
}

TEST_F(StudyRun, EvaluatesOnlyItemsKeptOutOfTraining) {
  ASSERT_EQ(first_.exit_code, 0) << first_.output;
  const json split = read_json(study() / "data/evaluation_split.json");
  std::set<int64_t> training(split["training_indices"].begin(), split["training_indices"].end());
  std::ifstream examples(study() / "data/train.jsonl");
  int count = 0;
  for (std::string line; std::getline(examples, line);) {
    const json example = json::parse(line);
    EXPECT_TRUE(training.count(example["index"].get<int64_t>())) << line;
    ++count;
  }
  EXPECT_EQ(count, 16);
  const json lens = read_json(study() / "lens/base/zh.json");
  const std::vector<int64_t> evaluation = split["evaluation_indices"];
  const std::vector<int64_t> lens_items = lens["item_indices"];
  ASSERT_EQ(lens_items.size(), 6u);
  // The lens draws its label-balanced sample (tests/data/sampling_test.cpp) from the held-out items only.
  const std::set<int64_t> held_out(evaluation.begin(), evaluation.end());
  for (const int64_t index : lens_items) EXPECT_TRUE(held_out.count(index)) << index;
  EXPECT_EQ(std::set<int64_t>(lens_items.begin(), lens_items.end()).size(), lens_items.size());
}

TEST_F(StudyRun, LensAndRepresentationOutputsCoverEveryLayerAndLanguage) {
  ASSERT_EQ(first_.exit_code, 0) << first_.output;
  for (const char* variant : {"base", "tuned"}) {
    for (const std::string& language : kLensLanguages) {
      const fs::path stem = study() / "lens" / variant / language;
      const json lens = read_json(stem.string() + ".json");
      ASSERT_EQ(lens["layers"].size(), 5u) << stem;  // embeddings + 4 layers
      EXPECT_EQ(lens["per_item"].size(), 6u);
      EXPECT_EQ(lens["layers"][0]["top_tokens"].size(), 5u);
      EXPECT_FALSE(lens["token_sets"]["english"].empty());
      EXPECT_FALSE(lens["token_sets"]["native"].empty());
      for (const json& layer : lens["layers"]) {
        for (const char* quantity : {"correct_english", "correct_native", "all_native", "all_english"}) {
          EXPECT_LE(layer[quantity]["lower"].get<double>(), layer[quantity]["mean"].get<double>()) << quantity;
          EXPECT_GE(layer[quantity]["upper"].get<double>(), layer[quantity]["mean"].get<double>()) << quantity;
        }
        EXPECT_GT(layer["entropy_bits"]["mean"].get<double>(), 0.0);
      }
      const std::string csv = io::read_file(stem.string() + ".csv");
      EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6);  // header + 5 layers
      EXPECT_TRUE(fs::is_regular_file(stem.string() + ".png") && fs::is_regular_file(stem.string() + ".svg"));
    }
    const json representations = read_json(study() / "pca" / variant / "representations.json");
    // The languages asked for are scattered; the study's seven are pooled for its correlation measure.
    EXPECT_EQ(representations["languages"], json({"en", "zh", "de", "fr", "hi", "th", "sw", "ms"}));
    EXPECT_EQ(representations["scatter_languages"], json(kPcaLanguages));
    ASSERT_EQ(representations["layers"].size(), 3u);
    EXPECT_EQ(representations["layers"][2]["layer"], 4);
    EXPECT_EQ(representations["item_indices"].size(), 6u);
  }
  // The tuned model carries the adapter: its lens differs from the base model's.
  const json base = read_json(study() / "lens/base/zh.json");
  const json tuned = read_json(study() / "lens/tuned/zh.json");
  EXPECT_NE(base["layers"][4]["entropy_bits"]["mean"], tuned["layers"][4]["entropy_bits"]["mean"]);
  EXPECT_FALSE(tuned["provenance"]["adapter"].is_null());
  EXPECT_TRUE(base["provenance"]["adapter"].is_null());
}

TEST_F(StudyRun, ResumesBySkippingFinishedStagesAndRefusesOtherSettings) {
  ASSERT_EQ(first_.exit_code, 0) << first_.output;
  const std::string report_before = io::read_file(study() / "eval/base.json");
  const testing::CommandResult again = testing::run_command(run_line(study()));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const std::regex skipped(R"(\] [^\n]*: skipped, already done)");
  EXPECT_EQ(std::distance(std::sregex_iterator(again.output.begin(), again.output.end(), skipped), std::sregex_iterator()),
            12)
      << again.output;
  EXPECT_EQ(io::read_file(study() / "eval/base.json"), report_before);

  const testing::CommandResult other = testing::run_command(run_line(study(), "--seed 5"));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.output.find("other settings: seed (was 0, now 5)"), std::string::npos) << other.output;
}

TEST_F(StudyRun, ReportRendersInHeadlessChromiumWithEveryFigureAndTable) {
  ASSERT_EQ(first_.exit_code, 0) << first_.output;
  const fs::path html_file = study() / "report.html";
  const std::string html = io::read_file(html_file);
  const auto count = [&](const std::string& needle) {
    size_t found = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) ++found;
    return found;
  };
  const size_t images = count("<img ");
  EXPECT_EQ(images, count("<img src=\"data:image/png;base64,"));  // self-contained
  // compare, loss, 4 lens overviews, 2 lens comparisons, 4 lens languages, 3 pair correlations, 3 cosine, 6 scatters
  EXPECT_GE(images, 24u);
  EXPECT_EQ(count("<table>"), 9u);

  const fs::path screenshot = directory_->path() / "report.png";
  const testing::CommandResult probe = testing::run_command(
      "node " + testing::shell_quote((testing::source_dir() / "tests/study/report_probe.mjs").string()) +
      " /usr/bin/chromium " + testing::shell_quote("file://" + html_file.string()) + " " +
      testing::shell_quote(screenshot.string()));
  ASSERT_EQ(probe.exit_code, 0) << "headless Chromium (Debian package chromium, tools/install-deps.sh) failed:\n"
                                << probe.output;
  const json page = json::parse(probe.output);
  EXPECT_NE(page["title"].get<std::string>().find("qtalign study"), std::string::npos);
  ASSERT_EQ(page["images"].size(), images);
  for (const json& image : page["images"]) {
    EXPECT_TRUE(image["complete"].get<bool>()) << image;
    EXPECT_GT(image["width"].get<int>(), 300) << image;
    EXPECT_GT(image["height"].get<int>(), 200) << image;
  }
  EXPECT_EQ(page["figures"].get<size_t>(), images);
  ASSERT_EQ(page["tables"].size(), 9u);
  for (const json& rows : page["tables"]) EXPECT_GE(rows.get<int>(), 2) << "a table without data rows";
  EXPECT_EQ(page["sections"], 6);
  EXPECT_TRUE(page["consoleErrors"].empty()) << page["consoleErrors"];
  EXPECT_TRUE(page["exceptions"].empty()) << page["exceptions"];
  EXPECT_TRUE(page["logErrors"].empty()) << page["logErrors"];
  for (const json& url : page["requests"]) {
    const std::string request = url.get<std::string>();
    EXPECT_TRUE(request.rfind("data:", 0) == 0 || request == "file://" + html_file.string()) << request;
  }
  EXPECT_GT(fs::file_size(screenshot), 50000u);  // a screenshot with content, not a blank page

  const std::string markdown = io::read_file(study() / "report.md");
  const std::regex link(R"(!\[[^\]]*\]\(([^)]+)\))");
  size_t links = 0;
  for (auto it = std::sregex_iterator(markdown.begin(), markdown.end(), link); it != std::sregex_iterator(); ++it, ++links)
    EXPECT_TRUE(fs::is_regular_file(study() / (*it)[1].str())) << (*it)[1].str();
  EXPECT_EQ(links, images);
}


// One prediction per line of an evaluation's predictions JSONL, by "task/language/index".
std::map<std::string, json> predictions_by_item(const fs::path& file) {
  std::map<std::string, json> predictions;
  std::ifstream lines(file);
  for (std::string line; std::getline(lines, line);) {
    json record = json::parse(line);
    const std::string key = fmt::format("{}/{}/{}", record["task"].get<std::string>(),
                                        record["language"].get<std::string>(), record["index"].get<int64_t>());
    predictions[key] = std::move(record);
  }
  return predictions;
}

// The languages of `task` in which one label takes more than 80% of the predictions.
size_t languages_with_one_label(const std::map<std::string, json>& predictions, const std::string& task) {
  std::map<std::string, std::map<std::string, size_t>> labels;  // language -> label -> predictions
  for (const auto& [key, item] : predictions)
    if (item["task"] == task) ++labels[item["language"].get<std::string>()][item["prediction"].get<std::string>()];
  size_t collapsed = 0;
  for (const auto& [language, counts] : labels) {
    size_t total = 0, largest = 0;
    for (const auto& [label, count] : counts) {
      total += count;
      largest = std::max(largest, count);
    }
    collapsed += largest * 5 > total * 4;
  }
  return collapsed;
}

// The items of `task` that every language answers with the same label.
size_t items_answered_alike_everywhere(const std::map<std::string, json>& predictions, const std::string& task) {
  std::map<int64_t, std::set<std::string>> labels;  // item index -> labels predicted in some language
  for (const auto& [key, item] : predictions)
    if (item["task"] == task) labels[item["index"].get<int64_t>()].insert(item["prediction"].get<std::string>());
  return std::count_if(labels.begin(), labels.end(), [](const auto& entry) { return entry.second.size() == 1; });
}

// `make demo`'s study as it runs by default (the demo model, 16 items per task and language in 20
// languages, fp32, the demo's tuning settings), its analyses cut short. The demo must show something:
// the base model's answers depend on the item (no task has one label for over 80% of the items in
// most languages, as a random model has) and differ between languages, and tuning moves some of them
// (at the study's lr of 5e-5 it moved none).
TEST(DemoStudy, PredictionsDependOnTheItemAndTuningMovesSome) {
  testing::TempDir directory;
  const fs::path study = directory.path() / "study";
  const testing::CommandResult run = testing::run_command(
      testing::shell_quote(testing::qtalign_binary().string()) + " run --out " + testing::shell_quote(study.string()) +
      " --analysis-limit 2 --lens-langs zh --pca-langs en,zh --pca-layers 0 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::map<std::string, json> base = predictions_by_item(study / "eval/base.predictions.jsonl");
  const std::map<std::string, json> tuned = predictions_by_item(study / "eval/tuned.predictions.jsonl");
  ASSERT_EQ(base.size(), 3u * 20u * 16u);
  ASSERT_EQ(tuned.size(), base.size());
  for (const char* task : {"emotion", "snli", "paws"}) {
    EXPECT_LT(languages_with_one_label(base, task), 10u) << task;
    EXPECT_LT(items_answered_alike_everywhere(base, task), 8u) << task << ": of 16 items";
  }
  size_t moved = 0;
  std::map<std::string, int> correct_change;  // task/language -> tuned minus base correct items
  for (const auto& [key, item] : base) {
    const json& after = tuned.at(key);
    moved += item["prediction"] != after["prediction"];
    correct_change[key.substr(0, key.rfind('/'))] += int{after["correct"].get<bool>()} - int{item["correct"].get<bool>()};
  }
  // At least 1 in 20 (BENCHMARKS.md: about 1 in 10 on the development machine); and some accuracy changes.
  EXPECT_GE(moved, base.size() / 20) << moved << " of " << base.size() << " predictions moved";
  EXPECT_TRUE(std::any_of(correct_change.begin(), correct_change.end(), [](const auto& entry) { return entry.second != 0; }));
}

}  // namespace
}  // namespace qtalign::study
