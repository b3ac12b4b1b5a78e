// The command line as a whole: every usage error of every subcommand (an unknown flag, a missing or
// invalid option, options that contradict each other) ends in one line and a non-zero exit code,
// and writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <vector>

#include "support/test_support.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

using testing::line_count;

testing::CommandResult qtalign(const std::string& arguments) {
  return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + arguments);
}

struct UsageError {
  std::string arguments;  // OUT stands for "out" in a fresh directory
  std::string problem;    // what the one line of output must contain
};

// Runs every case at once (each is mostly the program's start-up) and expects of each exit code 1,
// one line "qtalign: error: ..." containing its problem, and nothing written.
void expect_usage_errors(const std::vector<UsageError>& cases) {
  std::vector<std::unique_ptr<testing::TempDir>> temps;
  std::vector<std::future<testing::CommandResult>> results;
  for (const UsageError& usage : cases) {
    temps.push_back(std::make_unique<testing::TempDir>());
    std::string line = usage.arguments;
    for (size_t at = line.find("OUT"); at != std::string::npos; at = line.find("OUT"))
      line.replace(at, 3, shell_quote((*temps.back() / "out").string()));
    results.push_back(std::async(std::launch::async, qtalign, line));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].arguments);
    const testing::CommandResult result = results[i].get();
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_EQ(line_count(result.output), 1u) << result.output;
    EXPECT_EQ(result.output.rfind("qtalign: error: ", 0), 0u) << result.output;
    EXPECT_NE(result.output.find(cases[i].problem), std::string::npos) << result.output;
    EXPECT_TRUE(fs::is_empty(temps[i]->path())) << "something was written";
  }
}

const char* const kSubcommands[] = {"data build", "eval",     "compare", "train",    "merge",     "launch",
                                    "lens",       "pca",      "run",     "generate", "init-model"};

TEST(CommandLine, UnknownFlagsOfEverySubcommand) {
  // With the required options given, so the unknown flag is the only problem.
  const std::map<std::string, std::string> required = {
      {"data build", "--task snli --langs zh"}, {"eval", "--model m"},         {"compare", "a.json b.json"},
      {"train", "--model m --data d"},          {"merge", "--model m --adapter a"}, {"launch", ""},
      {"lens", "--model m"},                    {"pca", "--model m"},           {"run", ""},
      {"generate", "--model m --prompt hi"},    {"init-model", ""}};
  std::vector<UsageError> cases;
  for (const char* subcommand : kSubcommands)
    cases.push_back({std::string(subcommand) + " " + required.at(subcommand) + " --out OUT --no-such-flag 3",
                     "--no-such-flag"});
  expect_usage_errors(cases);
}

TEST(CommandLine, MissingRequiredOptionsAndSubcommands) {
  expect_usage_errors({{"eval --out OUT", "--model is required"},
                       {"train --model m --data d", "--out is required"},
                       {"merge --model m --out OUT", "--adapter is required"},
                       {"compare onlyone.json", "tuned is required"},
                       {"", "A subcommand is required"},
                       {"no-such-command --model m", "unknown command 'no-such-command'"}});
}

TEST(CommandLine, InvalidAndContradictoryOptions) {
  const std::string data = " --data-dir " + shell_quote(testing::shared_data_dir().string());
  expect_usage_errors({
      {"data build --task snli --langs zh --source shipped --x-file x.json --out OUT/t.jsonl" + data, "--x-file"},
      {"eval --model m --shots -3 --out OUT/r.json", "--shots"},
      {"eval --model m --limit -1 --out OUT/r.json", "--limit"},
      {"eval --model m --truncate middle --out OUT/r.json", "--truncate"},
      {"eval --model m --batch-size 0 --out OUT/r.json" + data, "--batch-size must be at least 1"},
      {"train --model m --data d --lora-r 0 --out OUT", "--lora-r must be positive"},
      {"merge --model OUT --adapter a --out OUT", "--out must differ from --model"},
      {"launch -n 0 -- train", "-n must be at least 1"},
      {"lens --model m --task snli --out OUT" + data, "no logit-lens prompts"},
      {"pca --model m --pooling max --out OUT" + data, "pooling 'max'"},
      {"generate --model m --prompt hi --max-new-tokens 0", "--max-new-tokens"},
      {"init-model --out OUT --dtype fp16", "--dtype"},
  });
}

// Options that would have no effect in the combination given are refused rather than ignored.
TEST(CommandLine, OptionsWithoutEffectAreRefused) {
  const std::string data = " --data-dir " + shell_quote(testing::shared_data_dir().string());
  expect_usage_errors({
      {"eval --model m --quant-blocksize 128 --out OUT/r.json" + data,
       "--quant-blocksize needs --quantize nf4 or fp4 (it sizes their absmax blocks; without 4-bit weights it would "
       "be ignored)"},
      {"eval --model m --quantize none --quant-blocksize 64 --out OUT/r.json" + data, "--quant-blocksize needs"},
      {"generate --model m --prompt hi --quant-blocksize 256", "--quant-blocksize needs --quantize"},
      {"train --model m --data d --out OUT --val-ratio 0 --eval-every 10",
       "--eval-every has no effect here: --val-ratio 0 holds out no validation examples"},
      {"data build --task snli --langs zh --split-out OUT/s.json --out OUT/t.jsonl" + data,
       "--split-out requires --exclude-test"},
      {"data build --task paws --langs ja --eval-fraction 0.3 --out OUT/t.jsonl" + data,
       "--eval-fraction requires --exclude-test"},
      {"run --model m --demo-tokenizer t --out OUT" + data,
       "--demo-tokenizer has no effect here: it shapes the demo model, made only without --model"},
      {"run --train-langs zh sw --lens-langs zh --out OUT" + data,
       "--lens-langs has no effect here: a grid (several --train-langs, --target, --labels or --shots) runs no lens "
       "or PCA"},
      {"study --models m --demo-tokenizer t --out OUT" + data,
       "--demo-tokenizer has no effect here: no model is the demo"},
  });
}

// CLI11's own range checks named a bound of 309 digits.
TEST(CommandLine, NumbersOutOfRangeSayTheLeastValue) {
  expect_usage_errors({{"eval --model m --threads -1 --out OUT/r.json", "--threads: must be at least 0, not -1"},
                       {"eval --model m --first 0 --out OUT/r.json", "--first: must be at least 1, not 0"},
                       {"generate --model m --prompt hi --max-new-tokens 0", "must be at least 1, not 0"},
                       {"launch --stop-grace -1 -- eval --model m", "--stop-grace: must be at least 0, not -1"},
                       {"train --model m --data d --out OUT --seed -1", "--seed: must be at least 0, not -1"}});
}

// With no demonstrations nothing says that task-agnostic words ("ox") stand for labels: eval, run
// and study refuse it before any work instead of reporting chance accuracy.
TEST(CommandLine, TaskAgnosticAnswersWithoutDemonstrationsAreRefused) {
  const std::string data = " --data-dir " + shell_quote(testing::shared_data_dir().string());
  const std::string refusal = "answer type task-agnostic needs demonstrations, and 0 shots gives none";
  expect_usage_errors({
      {"eval --model m --task emotion --labels task-agnostic --shots 0 --out OUT/r.json" + data, refusal},
      {"run --task emotion --labels task-agnostic --shots 0 --out OUT" + data, refusal},
      {"run --task emotion --labels english task-agnostic --shots 0 --out OUT" + data, refusal},
      {"study --tasks emotion --labels task-agnostic --shots default 0 --out OUT" + data, refusal},
  });
}

// A plan's size and duplicates are refused before any work, naming the count, the limit and the option.
TEST(CommandLine, StudyPlansTooLargeOrWithDuplicatesAreRefused) {
  const std::string data = " --data-dir " + shell_quote(testing::shared_data_dir().string());
  expect_usage_errors({
      {"study --train-langs zh de fr es --max-configurations 3 --out OUT" + data,
       "4 configurations (1 model(s) x 4 mixture(s) x 1 target(s) x 1 tuning task(s)), more than the limit of 3"},
      {"run --train-langs zh,de de,zh --out OUT" + data, "tuning mixture zh,de and de,zh are the same"},
      {"study --train-langs zh --labels english english --out OUT" + data, "answer type english is given twice"},
  });
}

TEST(CommandLine, HelpAndVersionSucceed) {
  const testing::CommandResult version = qtalign("--version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_EQ(version.output, std::string("qtalign ") + QTALIGN_VERSION + "\n");
  const testing::CommandResult help = qtalign("eval --help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find("--truncate"), std::string::npos) << help.output;
}

TEST(CommandLine, NegativeValuesForUnsignedOptionsAreErrors) {
  // CLI11 alone would wrap -1 into 18446744073709551615.
  expect_usage_errors({{"train --model m --data d --out OUT --seed -1", "--seed"},
                       {"init-model --out OUT --seed -1", "--seed"},
                       {"eval --model m --out OUT/r.json --seed -1", "--seed"},
                       {"data build --task snli --langs zh --size -1 --out OUT/t.jsonl", "--size"}});
}

TEST(CommandLine, TopLevelHelpListsEachCommandOnOneLine) {
  const testing::CommandResult help = qtalign("--help");
  ASSERT_EQ(help.exit_code, 0) << help.output;
  const size_t start = help.output.find("Subcommands:\n");
  ASSERT_NE(start, std::string::npos) << help.output;
  std::vector<std::string> lines;
  std::istringstream listing(help.output.substr(start + 13));
  for (std::string line; std::getline(listing, line);)
    if (!line.empty()) lines.push_back(line);
  const std::vector<std::string> commands = {"data", "eval", "compare", "train",    "merge",      "launch",
                                             "lens", "pca",  "run",     "generate", "init-model", "study", "task"};
  for (const std::string& command : commands)
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                            [&](const std::string& line) { return line.rfind("  " + command + " ", 0) == 0; }),
              1)
        << command << " in:\n" << help.output;
  // Nothing else: every line names a command (a description's second line would not).
  for (const std::string& line : lines)
    EXPECT_TRUE(std::any_of(commands.begin(), commands.end(),
                            [&](const std::string& command) { return line.rfind("  " + command + " ", 0) == 0; }))
        << "a continuation line: " << line;
}

TEST(CommandLine, HelpTextsCiteOnlyDocumentsInTheRepository) {
  const std::regex document(R"(\b([A-Z][A-Z_a-z]*\.md)\b|\bSPEC\b|\b[Ss]ection \d)");
  std::vector<std::string> subcommands(std::begin(kSubcommands), std::end(kSubcommands));
  subcommands.push_back("");
  for (const std::string& subcommand : subcommands) {
    const testing::CommandResult help = qtalign(subcommand + " --help");
    ASSERT_EQ(help.exit_code, 0) << subcommand << ": " << help.output;
    for (std::sregex_iterator match(help.output.begin(), help.output.end(), document), end; match != end; ++match) {
      const std::string cited = (*match)[1].matched ? (*match)[1].str() : "";
      EXPECT_TRUE(!cited.empty() && fs::exists(testing::source_dir() / cited))
          << "`qtalign " << subcommand << " --help` cites '" << match->str() << "', which is not in the repository";
    }
  }
}

TEST(CommandLine, RunRefusesAnOutThatIsAFileAtOnce) {
  testing::TempDir temp;
  { std::ofstream(temp / "taken") << "x"; }
  const testing::CommandResult result = qtalign("run --out " + shell_quote((temp / "taken").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "qtalign: error: " + (temp / "taken").string() + ": exists and is not a directory\n");
}

}  // namespace
}  // namespace qtalign
