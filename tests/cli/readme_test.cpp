// README's "stage by stage" block, run as written on a tiny checkpoint: each command is read out of
// README.md, the model path and the program path are replaced, options that make it slow are cut down
// (fewer items, a smaller training set, fewer steps), and every command must exit 0.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "eval/eval_test_support.h"
#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

// The commands of the ```sh block after "or stage by stage:" in README.md, comments removed.
std::vector<std::string> stage_by_stage_commands() {
  const std::string readme = io::read_file(testing::source_dir() / "README.md");
  const size_t intro = readme.find("or stage by stage:");
  if (intro == std::string::npos) return {};
  const size_t open = readme.find("```sh\n", intro);
  const size_t close = readme.find("```", open + 6);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::istringstream block(readme.substr(open + 6, close - open - 6));
  std::vector<std::string> commands;
  for (std::string line; std::getline(block, line);) {
    const size_t comment = line.find("  #");
    if (comment != std::string::npos) line.resize(comment);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty()) commands.push_back(line);
  }
  return commands;
}

// The subcommand a README line runs (the one after `launch ... --` for launch lines).
std::string subcommand_of(const std::string& command) {
  std::istringstream words(command);
  std::vector<std::string> tokens;
  for (std::string word; words >> word;) tokens.push_back(word);
  if (tokens.size() < 2) return "";
  if (tokens[1] == "launch")
    for (size_t i = 2; i + 1 < tokens.size(); ++i)
      if (tokens[i] == "--") return tokens[i + 1];
  return tokens[1];
}

// Sets `option` to `value` in the command line: replaces the value it has, or appends both.
std::string with_option(std::string command, const std::string& option, const std::string& value) {
  const std::regex present("(\\s" + option + ")\\s+\\S+");
  if (std::regex_search(command, present)) return std::regex_replace(command, present, "$1 " + value);
  return command + " " + option + " " + value;
}

TEST(Readme, EveryStageByStageCommandRunsOnATinyModel) {
  const std::vector<std::string> commands = stage_by_stage_commands();
  ASSERT_GE(commands.size(), 8u) << "README.md lost its stage-by-stage block";
  testing::TempDir dir;
  testing::write_tiny_checkpoint(testing::tiny_qwen_model(), dir / "model");
  // What keeps each stage to seconds: few items, a small training set, one short epoch, few tokens.
  const std::map<std::string, std::vector<std::pair<std::string, std::string>>> fast = {
      {"data", {{"--size", "24"}}},
      {"eval", {{"--limit", "2"}, {"--threads", "2"}}},
      {"train", {{"--epochs", "1"}, {"--batch", "4"}, {"--grad-accum", "1"}, {"--threads", "1"}}},
      {"lens", {{"--limit", "4"}, {"--resamples", "200"}, {"--threads", "2"}}},
      {"pca", {{"--limit", "4"}, {"--resamples", "200"}, {"--threads", "2"}}},
      {"merge", {}},
      {"generate", {{"--max-new-tokens", "3"}}},
  };
  for (const std::string& readme_command : commands) {
    ASSERT_EQ(readme_command.rfind("build/qtalign ", 0), 0u) << readme_command;
    std::string command = shell_quote(testing::qtalign_binary().string()) + readme_command.substr(13);
    command = std::regex_replace(command, std::regex("/models/[^ ]+"), shell_quote((dir / "model").string()));
    const auto options = fast.find(subcommand_of(readme_command));
    if (options != fast.end())
      for (const auto& [option, value] : options->second) command = with_option(command, option, value);
    const testing::CommandResult result = testing::run_command(
        "cd " + shell_quote(dir.path().string()) + " && QTALIGN_DATA=" +
        shell_quote(testing::shared_data_dir().string()) + " " + command + " 2>&1");
    EXPECT_EQ(result.exit_code, 0) << readme_command << "\nran as: " << command << "\n" << result.output;
    if (result.exit_code != 0) break;  // later stages read what this one writes
  }
  // What the lens and PCA stages wrote, in the study's terms.
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "lens" / "ru.png"));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "lens" / "de.json"));  // every item dropped, and said so
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "pca" / "pair_correlation.csv"));
}

}  // namespace
}  // namespace qtalign
