// A benchmark of one's own end to end: a multiple-choice task file (4 options, 3 languages, Basque
// among none of the study's 20) over JSONL items, evaluated, tuned on its questions and tabulated by
// `qtalign study` on the demo model.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <map>

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

TEST(TaskFileStudy, MultipleChoiceTaskIsEvaluatedTunedAndTabulated) {
  testing::TempDir dir;
  write_task(dir / "tasks");
  const fs::path out = dir / "grid";
  const testing::CommandResult result = testing::run_command(
      "QTALIGN_TASKS=" + testing::shell_quote((dir / "tasks").string()) + " " +
      testing::shell_quote(testing::qtalign_binary().string()) + " study --out " + testing::shell_quote(out.string()) +
      " --models demo --train-langs de eu --targets en --tasks pick --eval-langs all --eval-limit 8 --size 8"
      " --epochs 1 --batch 4 --grad-accum 1 --threads 2 --demo-examples 40 2>&1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
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
}

}  // namespace
}  // namespace qtalign::study
