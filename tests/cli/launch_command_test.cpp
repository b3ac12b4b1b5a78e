// End to end: `qtalign launch -n 2 --` on a tiny checkpoint with the real Qwen tokenizer. Two processes
// over loopback share eval's (task, language) pairs, or the items of a single pair, and the prompt
// batches of lens and pca, and write the files one process writes; the study runner (run, study)
// runs every stage on both, survives a dead rank by a rerun, and writes the study folder of one.
// launch stops every process of every rank's process group before it reports a failure or an
// interruption, and refuses to run inside another launch.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "distributed/process_group.h"
#include "eval/eval_test_support.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "study/demo_model.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

// A suite's tiny checkpoint, and commands run on it in one process or launched in two.
class LaunchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    testing::write_tiny_checkpoint(testing::tiny_qwen_model(), *temp_ / "model");
  }
  static void TearDownTestSuite() { delete temp_; }

  static std::string path(const std::string& relative) { return shell_quote((*temp_ / relative).string()); }
  static std::filesystem::path file(const std::string& relative) { return *temp_ / relative; }

  // `qtalign <command>` on the tiny checkpoint, one thread per process, after `launcher` ("" or
  // "launch -n 2 --").
  static testing::CommandResult qtalign(const std::string& launcher, const std::string& command,
                                        const std::string& arguments) {
    return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + launcher + " " + command +
                                " --model " + path("model") + " --dtype fp32 --threads 1 --data-dir " +
                                shell_quote(testing::shared_data_dir().string()) + " " + arguments + " 2>&1");
  }

  // A JSON output without what differs between any two runs, nor the command line (--out differs).
  static io::Json comparable(const std::string& relative) {
    io::Json results = eval::without_volatile_fields(io::read_json_file(file(relative)));
    results["provenance"].erase("command_line");
    return results;
  }

 private:
  static testing::TempDir* temp_;
};
testing::TempDir* LaunchTest::temp_ = nullptr;

class LaunchEval : public LaunchTest {
 protected:
  static testing::CommandResult eval(const std::string& launcher, const std::string& arguments) {
    return qtalign(launcher, "eval", "--batch-size 4 " + arguments);
  }
};

class LaunchAnalysis : public LaunchTest {};

TEST_F(LaunchEval, TwoProcessesWriteTheResultsOfOne) {
  const std::string run = "--task all --langs en,zh --limit 6 --seen zh ";
  const testing::CommandResult one = eval("", run + "--out " + path("one/results.json") + " --predictions " +
                                                  path("one/predictions.jsonl"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two = eval("launch -n 2 --", run + "--out " + path("two/results.json") +
                                                                " --predictions " + path("two/predictions.jsonl"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1]"), std::string::npos) << two.output;  // rank 1 evaluated pairs
  EXPECT_EQ(comparable("two/results.json"), comparable("one/results.json"));
  EXPECT_EQ(io::read_file(file("two/predictions.jsonl")), io::read_file(file("one/predictions.jsonl")));
  EXPECT_FALSE(std::filesystem::exists(file("two/results.json.state")));
}

// One pair and two processes: each evaluates a contiguous half of the items, rejoined in order.
TEST_F(LaunchEval, TwoProcessesShareTheItemsOfASinglePair) {
  const std::string run = "--task snli --langs de --limit 7 ";
  ASSERT_EQ(eval("", run + "--out " + path("single/one.json")).exit_code, 0);
  const testing::CommandResult two = eval("launch -n 2 --", run + "--out " + path("single/two.json"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1] snli/de (3 of 7 items): 3/3 items"), std::string::npos) << two.output;
  EXPECT_EQ(comparable("single/two.json"), comparable("single/one.json"));
}

// A shared run stopped after some pairs keeps them (rank 0's state), and the rerun evaluates only the rest.
TEST_F(LaunchEval, AStoppedSharedRunResumes) {
  const std::string run = "--task all --langs en,zh --limit 4 --out " + path("resume/results.json") + " ";
  ASSERT_EQ(eval("", "--task all --langs en,zh --limit 4 --out " + path("resume/one.json")).exit_code, 0);
  const testing::CommandResult first = eval("launch -n 2 --", run + "--max-pairs 3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("stopped after 3 pairs"), std::string::npos) << first.output;
  EXPECT_FALSE(std::filesystem::exists(file("resume/results.json")));
  const testing::CommandResult second = eval("launch -n 2 --", run);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  size_t resumed = 0;
  for (size_t at = second.output.find("resumed from"); at != std::string::npos;
       at = second.output.find("resumed from", at + 1))
    ++resumed;
  EXPECT_EQ(resumed, 3u) << second.output;
  EXPECT_EQ(comparable("resume/results.json"), comparable("resume/one.json"));
}

// A shared run stopped inside a pair keeps its finished pieces (rank 0's state), the rerun evaluates
// only the others, and the files are those of one process evaluating the same pieces.
TEST_F(LaunchEval, AStoppedSharedRunKeepsThePiecesOfAPair) {
  const std::string run = "--task snli --langs de --limit 7 --save-every 2 ";
  ASSERT_EQ(eval("", run + "--out " + path("pieces/one.json") + " --predictions " + path("pieces/one.jsonl")).exit_code,
            0);
  const std::string outputs = "--out " + path("pieces/two.json") + " --predictions " + path("pieces/two.jsonl");
  // Pieces 0-1 and 2-3 reach 3 items, one per rank.
  const testing::CommandResult first = eval("launch -n 2 --", run + outputs + " --max-items 3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(std::filesystem::exists(file("pieces/two.json.state/snli.de.items-0-2.json"))) << first.output;
  EXPECT_TRUE(std::filesystem::exists(file("pieces/two.json.state/snli.de.items-2-4.json"))) << first.output;
  const testing::CommandResult second = eval("launch -n 2 --", run + outputs);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("snli/de: resumed 4 of 7 items"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("[rank 1] snli/de (1 of 7 items): 1/1 items"), std::string::npos) << second.output;
  EXPECT_EQ(comparable("pieces/two.json"), comparable("pieces/one.json"));
  EXPECT_EQ(io::read_file(file("pieces/two.jsonl")), io::read_file(file("pieces/one.jsonl")));
}

// Two languages of several batches each: the batches are shared, and rank 0 sums the distributions
// in batch order and bootstraps as one process does.
TEST_F(LaunchAnalysis, TwoProcessesWriteTheLensOfOne) {
  const std::string run = "--task emotion --langs zh,ja --limit 5 --batch-size 2 --resamples 200 --top-k 3 ";
  const testing::CommandResult one = qtalign("", "lens", run + "--out " + path("lens/one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two = qtalign("launch -n 2 --", "lens", run + "--out " + path("lens/two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1] lens emotion"), std::string::npos) << two.output;  // rank 1 read batches
  for (const std::string language : {"zh", "ja"}) {
    const io::Json lens = comparable("lens/two/" + language + ".json");
    EXPECT_EQ(lens.at("items").get<int64_t>() + lens.at("dropped_overlap").get<int64_t>(), 5) << language;
    EXPECT_EQ(lens, comparable("lens/one/" + language + ".json")) << language;
    EXPECT_EQ(io::read_file(file("lens/two/" + language + ".csv")),
              io::read_file(file("lens/one/" + language + ".csv")));
  }
  EXPECT_EQ(io::read_json_file(file("lens/two/summary.json")), io::read_json_file(file("lens/one/summary.json")));
  EXPECT_EQ(io::read_file(file("lens/two/summary.md")), io::read_file(file("lens/one/summary.md")));
  EXPECT_TRUE(std::filesystem::exists(file("lens/two/overview_latent.svg")));
}

// Three languages of two batches each: rank 0 gathers every pooled vector and analyses them as one
// process does.
TEST_F(LaunchAnalysis, TwoProcessesWriteTheRepresentationsOfOne) {
  const std::string run = "--task emotion --langs en,de,zh --limit 4 --batch-size 3 --resamples 200 ";
  const testing::CommandResult one = qtalign("", "pca", run + "--out " + path("pca/one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two = qtalign("launch -n 2 --", "pca", run + "--out " + path("pca/two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1] representations emotion"), std::string::npos) << two.output;
  const io::Json representations = comparable("pca/two/representations.json");
  EXPECT_EQ(representations.at("item_indices").size(), 4u);
  EXPECT_EQ(representations, comparable("pca/one/representations.json"));
  for (const char* name : {"cosine.csv", "pair_correlation.csv", "representations.md"})
    EXPECT_EQ(io::read_file(file(std::string("pca/two/") + name)), io::read_file(file(std::string("pca/one/") + name)))
        << name;
  EXPECT_TRUE(std::filesystem::exists(file("pca/two/layer_00.svg")));
}

// The processes on this machine, from /proc: pid -> the fields of /proc/<pid>/stat after the command
// name (state, ppid, pgrp, ...).
std::map<int, std::vector<std::string>> process_table() {
  std::map<int, std::vector<std::string>> table;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) continue;  // ended meanwhile
    std::istringstream fields(line.substr(line.rfind(')') + 1));
    std::vector<std::string>& row = table[std::stoi(name)];
    for (std::string field; fields >> field;) row.push_back(field);
  }
  return table;
}

// The processes whose process group is `group`.
std::vector<int> processes_in_group(int group) {
  std::vector<int> members;
  for (const auto& [pid, fields] : process_table())
    if (fields.size() > 2 && std::stoi(fields[2]) == group) members.push_back(pid);
  return members;
}

// The value of `variable` in the environment a process started with ("" when unset or unreadable).
std::string environment_of(int pid, const std::string& variable) {
  std::ifstream environ_file("/proc/" + std::to_string(pid) + "/environ");
  for (std::string entry; std::getline(environ_file, entry, '\0');)
    if (entry.rfind(variable + "=", 0) == 0) return entry.substr(variable.size() + 1);
  return "";
}

// The `count` processes `launcher` started once they run qtalign (rank -> pid); fewer when they did
// not show within 60 s.
std::map<int, int> launched_ranks(int launcher, size_t count) {
  std::map<int, int> ranks;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ranks.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (const auto& [pid, fields] : process_table()) {
      const std::string rank = fields.size() > 1 && std::stoi(fields[1]) == launcher
                                   ? environment_of(pid, "QTALIGN_LAUNCH_RANK")
                                   : "";
      if (!rank.empty()) ranks[std::stoi(rank)] = pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ranks;
}

// launch, its processes and what it leaves behind when one of them fails or it is interrupted.
class LaunchProcesses : public LaunchTest {
 protected:
  // `qtalign launch -n 2 --stop-grace 1 -- eval` on every pair (far longer than the tests let it run),
  // started in the background with its output to `log`.
  static std::unique_ptr<testing::BackgroundProcess> start_launch(const std::string& log) {
    return std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{testing::qtalign_binary().string(), "launch", "-n", "2", "--stop-grace", "1", "--",
                                 "eval", "--model", file("model").string(), "--dtype", "fp32", "--threads", "1",
                                 "--data-dir", testing::shared_data_dir().string(), "--task", "all", "--langs", "all",
                                 "--batch-size", "1", "--out", file(log + ".json").string()},
        std::vector<std::string>{}, file(log));
  }

  // Expects every rank and every process of its process group to be gone, and ends what is left of
  // a failed test.
  static void expect_nothing_left(const std::map<int, int>& ranks) {
    const auto table = process_table();
    for (const auto& [rank, pid] : ranks) {
      EXPECT_EQ(table.count(pid), 0u) << "rank " << rank << " lives on";
      if (table.count(pid)) ::kill(pid, SIGKILL);
      const std::vector<int> left = processes_in_group(pid);
      EXPECT_TRUE(left.empty()) << "rank " << rank << "'s process group still has " << left.size() << " process(es)";
      if (!left.empty()) ::kill(-pid, SIGKILL);
    }
  }
};

// A rank that fails makes launch stop the others as whole process groups: a process that does not end
// on SIGTERM (here, stopped) gets SIGKILL after --stop-grace, and launch reports only once every
// process of every group is gone.
TEST_F(LaunchProcesses, AFailedRankStopsEveryProcessOfEveryGroupBeforeLaunchReturns) {
  auto launch = start_launch("failed.log");
  const std::map<int, int> ranks = launched_ranks(launch->pid, 2);
  ASSERT_EQ(ranks.size(), 2u) << io::read_file(file("failed.log"));
  for (const auto& [rank, pid] : ranks)
    EXPECT_EQ(process_table()[pid].at(2), std::to_string(pid)) << "rank " << rank << " leads its own process group";
  ::kill(ranks.at(0), SIGSTOP);
  ::kill(ranks.at(1), SIGKILL);
  EXPECT_EQ(launch->wait(60), 1) << io::read_file(file("failed.log"));
  expect_nothing_left(ranks);
  EXPECT_NE(io::read_file(file("failed.log"))
                .find("qtalign: error: launch: rank 1 exited with status 137 (the other processes were stopped)"),
            std::string::npos)
      << io::read_file(file("failed.log"));
  EXPECT_FALSE(std::filesystem::exists(file("failed.log.json")));
}

// Ctrl-C reaches only launch's own process group from the terminal: launch passes it on to every
// rank's group and ends as an interrupted command does, once they are gone.
TEST_F(LaunchProcesses, AnInterruptionReachesEveryRank) {
  auto launch = start_launch("interrupted.log");
  const std::map<int, int> ranks = launched_ranks(launch->pid, 2);
  ASSERT_EQ(ranks.size(), 2u) << io::read_file(file("interrupted.log"));
  ::kill(launch->pid, SIGINT);
  EXPECT_EQ(launch->wait(60), 128 + SIGINT) << io::read_file(file("interrupted.log"));
  expect_nothing_left(ranks);
  EXPECT_NE(io::read_file(file("interrupted.log")).find("qtalign: interrupted"), std::string::npos)
      << io::read_file(file("interrupted.log"));
}

// A launch inside a launch would start processes the outer one cannot stop (they once lived on and
// finished the job after launch said it had stopped them): refused at its start, saying why.
TEST_F(LaunchProcesses, ALaunchInsideALaunchIsRefused) {
  const testing::CommandResult nested = qtalign("launch -n 2 -- launch -n 2 --", "eval",
                                                "--task snli --langs en --limit 2 --out " + path("nested.json"));
  EXPECT_EQ(nested.exit_code, 1) << nested.output;
  // Either rank may say it first; the other may be stopped before it does.
  EXPECT_NE(nested.output.find(" of a qtalign launch (QTALIGN_LAUNCH_RANK is set): a launch inside a launch starts "
                               "processes the outer one cannot stop; give the command to one launch (qtalign launch "
                               "-n N -- COMMAND)"),
            std::string::npos)
      << nested.output;
  EXPECT_NE(nested.output.find("qtalign: error: launch: rank "), std::string::npos) << nested.output;
  EXPECT_FALSE(std::filesystem::exists(file("nested.json")));
}

// The study runner on two processes against one. The two study folders must hold the same files with
// the same contents, but for provenance (when, how long, on which machine, by which command line, with
// how many processes) and the rounding of training: two processes sum the gradients in another order,
// so the adapters agree within 1e-5 (as TrainCommand accepts) and what the tuned model computes within
// a relative 1e-4.
class LaunchStudy : public LaunchTest {
 protected:
  // `qtalign [launcher] <command> --out <out>` with a small training run, one thread per process.
  static std::string study_command(const std::string& launcher, const std::string& command, const std::string& out,
                                   const std::string& arguments) {
    return shell_quote(testing::qtalign_binary().string()) + " " + launcher + " " + command + " --out " + path(out) +
           " --dtype fp32 --threads 1 --data-dir " + shell_quote(testing::shared_data_dir().string()) +
           " --size 9 --epochs 1 --batch 2 --grad-accum 2 --eval-limit 4 " + arguments;
  }

  // Keys whose values are provenance, at any depth of a JSON file.
  static io::Json without_provenance(io::Json json) {
    static const char* const kKeys[] = {"provenance", "date", "finished", "seconds", "wall_time_s",
                                        "wall_seconds_last_run", "elapsed_seconds", "tokens_per_second", "command",
                                        "command_line", "processes", "last_check", "hardware", "threads"};
    if (json.is_object()) {
      for (const char* key : kKeys) json.erase(key);
      for (auto& [key, value] : json.items()) value = without_provenance(value);
    } else if (json.is_array()) {
      for (io::Json& value : json) value = without_provenance(value);
    }
    return json;
  }

  // A study file as text to compare: its study folder's path replaced, JSON (and each JSONL line)
  // without provenance.
  static std::string comparable_text(const std::filesystem::path& study, const std::string& relative) {
    std::string text = io::read_file(study / relative);
    for (size_t at = text.find(study.string()); at != std::string::npos; at = text.find(study.string(), at))
      text.replace(at, study.string().size(), "STUDY");
    const std::string extension = std::filesystem::path(relative).extension().string();
    if (extension == ".json") return without_provenance(io::Json::parse(text)).dump(1);
    if (extension != ".jsonl") return text;
    std::string lines;
    for (size_t begin = 0, end; begin < text.size(); begin = end + 1) {
      end = std::min(text.find('\n', begin), text.size());
      if (end > begin) lines += without_provenance(io::Json::parse(text.substr(begin, end - begin))).dump() + "\n";
    }
    return lines;
  }

  // Whether two texts are the same but for numbers that differ by at most a relative 1e-4 (or 1e-6).
  static bool same_but_rounding(const std::string& a, const std::string& b) {
    if (a == b) return true;  // most files: no need for the (slow) scan
    static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
    std::sregex_iterator x(a.begin(), a.end(), number), y(b.begin(), b.end(), number), end;
    size_t after_x = 0, after_y = 0;
    for (; x != end && y != end; ++x, ++y) {
      if (a.compare(after_x, x->position() - after_x, b, after_y, y->position() - after_y) != 0) return false;
      const double u = std::strtod(x->str().c_str(), nullptr), v = std::strtod(y->str().c_str(), nullptr);
      if (std::abs(u - v) > 1e-4 * std::max(std::abs(u), std::abs(v)) + 1e-6) return false;
      after_x = x->position() + x->length();
      after_y = y->position() + y->length();
    }
    return x == end && y == end && a.substr(after_x) == b.substr(after_y);
  }

  // The largest difference between the tensors of two safetensors files (infinite when their names differ).
  // The largest difference between the tensors of two safetensors files whose names contain
  // `fragment` (all of them when it is empty), or infinity when the files hold different tensors.
  static double tensor_difference(const std::filesystem::path& a, const std::filesystem::path& b,
                                  const std::string& fragment = "") {
    const auto one = io::SafetensorsFile::open(a), two = io::SafetensorsFile::open(b);
    if (one->header().tensors.size() != two->header().tensors.size()) return INFINITY;
    double largest = 0.0;
    for (const io::TensorRecord& record : one->header().tensors) {
      if (record.name.find(fragment) == std::string::npos) continue;
      const at::Tensor x = one->tensor(record.name).to(at::kDouble), y = two->tensor(record.name).to(at::kDouble);
      largest = std::max(largest, (x - y).abs().max().item<double>());
    }
    return largest;
  }

  // Expects the adapters (or training checkpoints) `a` and `b` to be the same up to float reduction
  // order: within 1e-5, except, in a demo study, the LoRA of the query of the demo model's reading
  // layer. That layer's attention reads one token per head (study::arrange_item_reader), so its
  // softmax is saturated and that LoRA's gradients are rounding noise, which Adam scales up to steps
  // of the order of lr: 1 and 2 processes then differ there by up to lr (5e-3) over the 3 steps.
  static void expect_same_adapter(const std::filesystem::path& a, const std::filesystem::path& b, bool demo) {
    if (!demo) {
      EXPECT_LE(tensor_difference(a, b), 1e-5) << a;
      return;
    }
    const std::string reading_query = fmt::format("layers.{}.self_attn.q_proj", study::DemoReader{}.layer);
    double largest_elsewhere = 0.0;
    const auto one = io::SafetensorsFile::open(a);
    for (const io::TensorRecord& record : one->header().tensors)
      if (record.name.find(reading_query) == std::string::npos)
        largest_elsewhere = std::max(largest_elsewhere, tensor_difference(a, b, record.name));
    EXPECT_LE(largest_elsewhere, 1e-5) << a;
    EXPECT_LE(tensor_difference(a, b, reading_query), 3 * 5e-3) << a;
  }

  // Expects the study folders `one` and `two` to hold the same study (see the class comment); the
  // reports (which list provenance) and charts are left out.
  static void expect_same_study(const std::string& one, const std::string& two, bool demo) {
    std::map<std::string, bool> files;  // relative path -> present in `two` as well
    for (const auto& entry : std::filesystem::recursive_directory_iterator(file(one)))
      if (entry.is_regular_file()) files[std::filesystem::relative(entry.path(), file(one)).string()] = false;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(file(two)))
      if (entry.is_regular_file()) {
        const auto found = files.find(std::filesystem::relative(entry.path(), file(two)).string());
        if (found == files.end()) ADD_FAILURE() << two << " has a file " << one << " lacks: " << entry.path();
        else found->second = true;
      }
    size_t compared = 0;
    for (const auto& [relative, in_both] : files) {
      EXPECT_TRUE(in_both) << one << " has a file " << two << " lacks: " << relative;
      const std::string extension = std::filesystem::path(relative).extension().string();
      if (!in_both || extension == ".png" || extension == ".svg" || relative == "report.html" || relative == "report.md")
        continue;
      ++compared;
      if (extension == ".safetensors") {
        if (io::read_file(file(one) / relative) == io::read_file(file(two) / relative)) continue;
        expect_same_adapter(file(one) / relative, file(two) / relative, demo);
        continue;
      }
      const std::string text_one = comparable_text(file(one), relative), text_two = comparable_text(file(two), relative);
      EXPECT_TRUE(same_but_rounding(text_one, text_two)) << relative << "\n" << text_one << "\n---\n" << text_two;
    }
    EXPECT_GE(compared, 30u);
  }
};

TEST_F(LaunchStudy, TheComparisonSeesOnlyRoundingAsTheSame) {
  EXPECT_TRUE(same_but_rounding("a 0.5 b 1e-05 c", "a 0.50002 b 1.00000001e-05 c"));
  EXPECT_FALSE(same_but_rounding("a 0.5 b", "a 0.51 b"));
  EXPECT_FALSE(same_but_rounding("a 0.5 b", "a 0.5 c"));
  EXPECT_FALSE(same_but_rounding("a 0.5 b 2", "a 0.5 b"));
  EXPECT_EQ(without_provenance(io::Json::parse(R"({"x": 1, "seconds": 2, "y": [{"command": "z", "w": 3}]})")),
            io::Json::parse(R"({"x": 1, "y": [{"w": 3}]})"));
}

// The whole demo study on two processes: rank 1 is killed once the base model is evaluated, which
// makes rank 0 fail naming it; rerunning the same command under launch resumes after the finished
// stages and ends with the study one process writes.
TEST_F(LaunchStudy, RunSurvivesADeadRankAndWritesTheStudyOfOneProcess) {
  const std::string run = "--eval-task emotion --eval-langs en,zh --analysis-limit 4 --lens-langs zh "
                          "--pca-langs en,zh --pca-layers 0,4";
  const testing::CommandResult one = testing::run_command(study_command("", "run", "run-one", run) + " 2>&1");
  ASSERT_EQ(one.exit_code, 0) << one.output;

  const std::string ranks = "export MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                            std::to_string(distributed::free_loopback_port()) + " WORLD_SIZE=2; ";
  const std::string rank_command = study_command("", "run", "run-two", run + " --dist-timeout 60");
  const testing::CommandResult killed = testing::run_command(
      ranks + "RANK=0 " + rank_command + " > " + path("rank0.log") + " 2>&1 & zero=$!; RANK=1 " + rank_command +
      " > " + path("rank1.log") + " 2>&1 & one=$!; while [ ! -e " + path("run-two/eval/base.json") +
      " ] && kill -0 $one 2>/dev/null; do sleep 0.05; done; kill -9 $one; wait $zero; echo rank 0 exited with $?");
  const std::string rank0 = io::read_file(file("rank0.log"));
  EXPECT_NE(killed.output.find("rank 0 exited with 1"), std::string::npos) << killed.output << rank0;
  EXPECT_NE(rank0.find("qtalign: error: rank 0 of 2:"), std::string::npos) << rank0;
  EXPECT_NE(rank0.find("rank 1 died or stopped answering"), std::string::npos) << rank0;
  EXPECT_FALSE(std::filesystem::exists(file("run-two/report.html")));

  const testing::CommandResult resumed =
      testing::run_command(study_command("launch -n 2 --", "run", "run-two", run) + " 2>&1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const std::regex skipped(R"(\] [^\n]*: skipped, already done)");
  EXPECT_EQ(std::distance(std::sregex_iterator(resumed.output.begin(), resumed.output.end(), skipped),
                          std::sregex_iterator()),
            3)  // the demo model, the training set and the base evaluation
      << resumed.output;
  EXPECT_NE(resumed.output.find("[rank 1] representations emotion"), std::string::npos) << resumed.output;
  EXPECT_EQ(io::read_json_file(file("run-two/study.json"))["processes"], 2);
  expect_same_study("run-one", "run-two", true);
}

// A grid of two mixtures on the tiny checkpoint: the base evaluation and both configurations on two
// processes give the tables one process gives.
TEST_F(LaunchStudy, StudyWritesTheGridOfOneProcess) {
  const std::string grid = "--models " + path("model") + " --tasks emotion --train-langs zh de --targets en "
                           "--eval-langs en,zh";
  const testing::CommandResult one = testing::run_command(study_command("", "study", "grid-one", grid) + " 2>&1");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two =
      testing::run_command(study_command("launch -n 2 --", "study", "grid-two", grid) + " 2>&1");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("2 process(es)"), std::string::npos) << two.output;  // the trainings were shared
  EXPECT_TRUE(std::filesystem::is_regular_file(file("grid-two/tables/model.emotion.english.default.csv")));
  expect_same_study("grid-one", "grid-two", false);
}

}  // namespace
}  // namespace qtalign
