// A benchmark of one's own end to end: a multiple-choice task file (4 options, 3 languages, Basque
// among none of the study's 20) over JSONL items, evaluated, tuned on its questions and tabulated by
// `qtalign study` on the demo model, the task file found through --tasks-dir alone.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <map>

#include "eval/eval_test_support.h"
#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 24 parallel items per language: a word, four options, the answer the option whose word it is.
void write_task(const fs::path& tasks) {
  fs::create_directories(tasks / "items");
  const std::map<std::string, std::vector<std::string>> words = {
      {"en", {"red", "green", "blue", "black", "white", "cat", "dog", "tree"}},
      {"de", {"rot", "grün", "blau", "schwarz", "weiß", "Katze", "Hund", "Baum"}},
      {"eu", {"gorri", "berde", "urdin", "beltz", "zuri", "katu", "txakur", "zuhaitz"}}};
  for (const auto& [code, list] : words) {
    std::string lines;
    for (size_t i = 0; i < 24; ++i) {
      const size_t answer = i % 4;
      std::vector<std::string> options;
      for (size_t o = 0; o < 4; ++o) options.push_back(list[(i + o * 3) % list.size()]);
      lines += json({{"q", options[answer] + " " + std::to_string(i) + "?"}, {"a", options[0]}, {"b", options[1]},
                     {"c", options[2]}, {"d", options[3]}, {"gold", std::string(1, static_cast<char>('A' + answer))}})
                   .dump() +
               "\n";
    }
    io::write_file_atomically(tasks / "items" / (code + ".jsonl"), lines);
  }
  json task = {{"options", {"a", "b", "c", "d"}},
               {"shots", 4},
               {"template", "{demonstrations}\n{Q}: {question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\n{Answer}: \""},
               {"items", {{"fields", {{"question", "q"}}}, {"answer", "gold"}}},
               {"languages", json::array()}};
  for (const auto& [code, name, q, answer] : std::vector<std::array<std::string, 4>>{
           {"en", "English", "Question", "Answer"}, {"de", "German", "Frage", "Antwort"}, {"eu", "Basque", "Galdera", "Erantzuna"}})
    task["languages"].push_back({{"code", code}, {"name", name}, {"items", "items/" + code + ".jsonl"},
                                 {"words", {{"Q", q}, {"Answer", answer}}},
                                 {"demonstrations", {{"dev", "items/" + code + ".jsonl"}}}});
  io::write_file_atomically(tasks / "pick.json", task.dump(1));
}

// The printed line of the stage whose command names `marker`, without its "$ qtalign " ("" when none).
std::string stage_command(const std::string& output, const std::string& marker) {
  for (size_t start = 0; start < output.size();) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string line = output.substr(start, end - start);
    if (line.rfind("$ qtalign ", 0) == 0 && line.find(marker) != std::string::npos) return line.substr(10);
    start = end + 1;
  }
  return "";
}

TEST(TaskFileStudy, MultipleChoiceTaskIsEvaluatedTunedAndTabulated) {
  testing::TempDir dir;
  const fs::path tasks = dir / "my tasks";  // neither $QTALIGN_TASKS nor <data>/tasks
  write_task(tasks);
  const fs::path out = dir / "grid";
  // Without the environment variable the task is found through --tasks-dir or not at all.
  const std::string qtalign = "env -u QTALIGN_TASKS " + testing::shell_quote(testing::qtalign_binary().string());
  const testing::CommandResult result = testing::run_command(
      qtalign + " study --out " + testing::shell_quote(out.string()) + " --tasks-dir " +
      testing::shell_quote(tasks.string()) +
      " --models demo --train-langs de eu --targets en --tasks pick --eval-langs all --eval-limit 8 --size 8"
      " --epochs 1 --batch 4 --grad-accum 1 --threads 2 2>&1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json record = json::parse(io::read_file(out / "study.json"));
  EXPECT_EQ(record["data"]["tasks_dir"], fs::absolute(tasks).lexically_normal().string());
  // Tuned on the task's own questions: Basque asks for translation from its display name.
  const std::string eu_data = io::read_file(out / "configurations/demo.eu_to_en.pick/data/train.jsonl");
  EXPECT_NE(eu_data.find("Galdera: "), std::string::npos) << eu_data;
  EXPECT_NE(eu_data.find("Translate the input from Basque to English:"), std::string::npos) << eu_data;
  // Evaluated on the task's three languages, scored over the option letters.
  const json base = json::parse(io::read_file(out / "base/demo/pick.english.default-shots.json"));
  std::vector<std::string> evaluated;
  for (const json& language : base["tasks"][0]["languages"]) evaluated.push_back(language["language"]);
  EXPECT_EQ(evaluated, (std::vector<std::string>{"en", "de", "eu"}));
  // The grid's table: columns in the task's order, Basque in a block of its own.
  const std::string table = io::read_file(out / "tables/demo.pick.english.default.md");
  EXPECT_NE(table.find("Column blocks: high-resource (en de); other (eu)"), std::string::npos) << table;
  EXPECT_NE(table.find("| configuration | en | de | eu |"), std::string::npos) << table;
  EXPECT_NE(table.find("| eu => en |"), std::string::npos) << table;

  // The printed stage command stays copy-pasteable: it names the tasks directory, and run as printed
  // it evaluates the same items to the same predictions.
  const std::string base_eval = stage_command(result.output, "pick.english.default-shots.json");
  ASSERT_NE(base_eval, "") << result.output;
  EXPECT_NE(base_eval.find("--tasks-dir " + testing::shell_quote(tasks.string())), std::string::npos) << base_eval;
  const fs::path predictions = out / "base/demo/pick.english.default-shots.predictions.jsonl";
  const std::string predicted = io::read_file(predictions);
  const testing::CommandResult again = testing::run_command(qtalign + " " + base_eval + " 2>&1");
  ASSERT_EQ(again.exit_code, 0) << base_eval << "\n" << again.output;
  EXPECT_EQ(io::read_file(predictions), predicted);
}

// `qtalign run` on a tiny checkpoint takes the task from --tasks-dir as well: tuned on its Basque
// questions, evaluated in its three languages before and after, the printed commands naming the
// directory.
TEST(TaskFileStudy, RunTakesTheTaskFromTasksDir) {
  testing::TempDir dir;
  const fs::path tasks = dir / "elsewhere";
  write_task(tasks);
  testing::write_tiny_checkpoint(testing::tiny_qwen_model(), dir / "model");
  const fs::path out = dir / "run";
  const testing::CommandResult result = testing::run_command(
      "env -u QTALIGN_TASKS " + testing::shell_quote(testing::qtalign_binary().string()) + " run --model " +
      testing::shell_quote((dir / "model").string()) + " --out " + testing::shell_quote(out.string()) +
      " --tasks-dir " + testing::shell_quote(tasks.string()) +
      " --task pick --eval-task pick --train-langs eu --eval-limit 4 --size 8 --epochs 1 --batch 4 --grad-accum 1"
      " --eval-every 0 --analysis-limit 4 --lens-langs zh --pca-langs en,zh --pca-layers 0,1 --threads 2 --dtype fp32"
      " 2>&1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* file : {"eval/base.json", "eval/tuned.json"}) {
    const json results = json::parse(io::read_file(out / file));
    std::vector<std::string> evaluated;
    for (const json& language : results["tasks"][0]["languages"]) evaluated.push_back(language["language"]);
    EXPECT_EQ(evaluated, (std::vector<std::string>{"en", "de", "eu"})) << file;
  }
  EXPECT_NE(io::read_file(out / "data/train.jsonl").find("Translate the input from Basque to English:"), std::string::npos);
  const std::string base_eval = stage_command(result.output, "eval/base.json");
  EXPECT_NE(base_eval.find("--tasks-dir " + tasks.string()), std::string::npos) << result.output;
  EXPECT_EQ(json::parse(io::read_file(out / "study.json"))["data"]["tasks_dir"],
            fs::absolute(tasks).lexically_normal().string());
}

}  // namespace
}  // namespace qtalign::study
