// `qtalign data ...` run as a user would: the built binary, real data, real files.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::cli {
namespace {

using nlohmann::json;
using testing::run_command;
using testing::shell_quote;
using testing::TempDir;

std::string qtalign_command(const std::string& arguments) {
  return shell_quote(testing::qtalign_binary().string()) + " " + arguments + " --data-dir " +
         shell_quote(testing::shared_data_dir().string());
}

std::vector<json> read_lines(const std::filesystem::path& file) {
  std::vector<json> records;
  const std::string text = io::read_file(file);
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    records.push_back(json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return records;
}

using testing::line_count;

TEST(DataCommand, BuildWritesTheMixture) {
  TempDir dir;
  const auto out = dir / "train.jsonl";
  const auto result = run_command(qtalign_command("data build --task snli --langs zh,de --size 100 --seed 3 --out " + shell_quote(out.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("wrote 100 examples"), std::string::npos) << result.output;
  const auto records = read_lines(out);
  ASSERT_EQ(records.size(), 100u);
  std::map<std::string, int> languages;
  const json zh = json::parse(io::read_file(testing::shared_data_dir() / "snli/snli_zh10k_train_question.json"));
  for (const json& record : records) {
    ASSERT_EQ(record.size(), 5u) << record.dump();
    EXPECT_EQ(record.at("target_language"), "en");
    ++languages[record.at("language").get<std::string>()];
    if (record["language"] == "zh") {
      EXPECT_EQ(record["input"], zh[record["index"].get<size_t>()]["input"]);
      EXPECT_EQ(record["target"], zh[record["index"].get<size_t>()]["answer"]);
    }
  }
  EXPECT_EQ(languages, (std::map<std::string, int>{{"de", 50}, {"zh", 50}}));
  // The same command gives the same bytes.
  const auto again = dir / "again.jsonl";
  ASSERT_EQ(run_command(qtalign_command("data build --task snli --langs zh,de --size 100 --seed 3 --out " + shell_quote(again.string()))).exit_code, 0);
  EXPECT_EQ(io::read_file(out), io::read_file(again));
}

TEST(DataCommand, BuildIntoAnotherTargetLanguage) {
  TempDir dir;
  const auto out = dir / "it.jsonl";
  const auto result =
      run_command(qtalign_command("data build --task snli --langs zh,es --target it --size 40 --out " + shell_quote(out.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("wrote 40 examples (into Italian)"), std::string::npos) << result.output;
  const json zh = json::parse(io::read_file(testing::shared_data_dir() / "snli/snli_zh600_test.json"));
  const json it = json::parse(io::read_file(testing::shared_data_dir() / "snli/snli_it600_test.json"));
  size_t chinese = 0;
  for (const json& record : read_lines(out)) {
    EXPECT_EQ(record.at("target_language"), "it");
    const size_t i = record.at("index").get<size_t>();
    EXPECT_EQ(record["target"], "Premessa: " + it[i]["premise"].get<std::string>() + "\nIpotesi: " +
                                    it[i]["hypothesis"].get<std::string>() + "\nRisposta: \"");
    if (record["language"] != "zh") continue;
    ++chinese;
    EXPECT_EQ(record["input"], "前提: " + zh[i]["premise"].get<std::string>() + "\n假设: " +
                                   zh[i]["hypothesis"].get<std::string>() +
                                   "\n答案: \"\nTranslate the input from Chinese to Italian:\n");
  }
  EXPECT_EQ(chinese, 20u);
  const auto same = run_command(qtalign_command("data build --task snli --langs it --target it --out " +
                                        shell_quote((dir / "same.jsonl").string())));
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_NE(same.output.find("'it' cannot be a tuning language when it is the target"), std::string::npos) << same.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "same.jsonl"));
}

TEST(DataCommand, ExcludeTestWritesTheEvaluationSplit) {
  TempDir dir;
  const auto result = run_command(
      qtalign_command("data build --task paws --langs ja --size 200 --exclude-test --eval-fraction 0.4 --out " + shell_quote((dir / "paws.jsonl").string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json split = json::parse(io::read_file(dir / "paws.eval_split.json"));
  EXPECT_EQ(split["evaluation_indices"].size(), 200u);
  EXPECT_EQ(split["training_indices"].size(), 300u);
  std::set<size_t> evaluation;
  for (const auto& index : split["evaluation_indices"]) evaluation.insert(index.get<size_t>());
  const auto records = read_lines(dir / "paws.jsonl");
  ASSERT_EQ(records.size(), 200u);
  for (const json& record : records) EXPECT_EQ(evaluation.count(record["index"].get<size_t>()), 0u);
}

TEST(DataCommand, BadInputFailsWithOneLineAndNoOutput) {
  TempDir dir;
  const auto out = dir / "train.jsonl";
  const auto unknown = run_command(qtalign_command("data build --task snli --langs zh,xx --out " + shell_quote(out.string())));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(line_count(unknown.output), 1u) << unknown.output;
  EXPECT_EQ(unknown.output.rfind("qtalign: error: unknown language 'xx'", 0), 0u) << unknown.output;

  const auto too_many = run_command(qtalign_command("data build --task emotion --langs fr --size 501 --out " + shell_quote(out.string())));
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_EQ(line_count(too_many.output), 1u) << too_many.output;
  EXPECT_NE(too_many.output.find("fr: 501 examples asked for but only 500"), std::string::npos) << too_many.output;

  // A data directory whose prompts.json is broken.
  TempDir data;
  io::write_file_atomically(data / "prompts.json", "{\"languages\": [\"en\", }");
  const auto broken = run_command(shell_quote(testing::qtalign_binary().string()) +
                                  " data build --task snli --langs zh --out " + shell_quote(out.string()) +
                                  " --data-dir " + shell_quote(data.path().string()));
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_EQ(line_count(broken.output), 1u) << broken.output;
  EXPECT_NE(broken.output.find((data / "prompts.json").string() + ": invalid JSON at line 1"), std::string::npos) << broken.output;

  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(DataCommand, ShowPrintsTheAssembledPrompt) {
  const auto result = run_command(qtalign_command("data show --task snli --lang zh --item 3"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json prompts = json::parse(io::read_file(testing::shared_data_dir() / "prompts.json"));
  const json items = json::parse(io::read_file(testing::shared_data_dir() / "snli/snli_zh600_test.json"));
  const std::string expected = prompts["tasks"]["snli"]["languages"]["zh"]["demonstrations"].get<std::string>() + "\n前提: " +
                               items[3]["premise"].get<std::string>() + "\n假设: " + items[3]["hypothesis"].get<std::string>() +
                               "\n答案: \"\n";
  EXPECT_EQ(result.output, expected);

  const auto as_json = run_command(qtalign_command("data show --task emotion --lang en --item 0 --question --json"));
  ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
  const json shown = json::parse(as_json.output);
  const json emotion = json::parse(io::read_file(testing::shared_data_dir() / "emotion/emotion_en500_test.json"));
  EXPECT_EQ(shown["question"], emotion[0]["input"].get<std::string>() + "\nEmotion: \"");
  EXPECT_EQ(shown["label"], "positive");

  const auto missing = run_command(qtalign_command("data show --task snli --lang zh --item 600"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("snli_zh600_test.json: no item 600 (it has 600 items"), std::string::npos) << missing.output;
}

TEST(DataCommand, CheckValidatesEveryFile) {
  const auto result = run_command(qtalign_command("data check"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // 60 test sets and 5 shipped sets: 20 * (500 + 600 + 500) + 5 * 10000 items.
  EXPECT_NE(result.output.find("65 files, 82000 items"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace qtalign::cli
