// The stage runner over two ranks (threads of this process, joined over loopback as processes would
// be): a stage of one process is rank 0's work alone, a shared stage every rank's, a done stage is
// skipped on every rank, and study.json is rank 0's.
#include "study/stages.h"

#include <gtest/gtest.h>

#include "distributed/distributed_test_support.h"
#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

TEST(StageRunner, RunsTheStagesOfOneProcessOnRankZeroAndSharedOnesEverywhere) {
  testing::TempDir directory;
  io::write_file_atomically(directory / "done-before", "");
  const auto stages_run = testing::on_every_rank<std::vector<std::string>>(2, [&](distributed::ProcessGroup& group) {
    StudyRecord record(directory / "study" / "study.json", {{"seed", 0}}, group);
    StageRunner stages(record, 3, group);
    std::vector<std::string> ran;
    const auto work = [&](const std::string& name) {
      ran.push_back(name);
      return io::Json{{"rank", group.rank()}};
    };
    stages.run_on_main("done before", directory / "done-before", [&] { return work("done before"); });
    stages.run_on_main("alone", directory / "alone", [&] {
      io::write_file_atomically(directory / "alone", "");
      return work("alone");
    });
    stages.run_shared("shared", directory / "shared", [&] { return work("shared"); });
    // Rank 0 wrote the first stage's output: done, for every rank.
    stages.run_on_main("alone again", directory / "alone", [&] { return work("alone again"); });
    return ran;
  });
  EXPECT_EQ(stages_run[0], (std::vector<std::string>{"alone", "shared"}));
  EXPECT_EQ(stages_run[1], (std::vector<std::string>{"shared"}));
  const io::Json record = io::read_json_file(directory / "study" / "study.json");
  EXPECT_EQ(record["stages"]["done before"]["status"], "skipped");
  EXPECT_EQ(record["stages"]["alone"]["status"], "done");
  EXPECT_EQ(record["stages"]["alone again"]["status"], "skipped");
  EXPECT_EQ(record["stages"]["shared"]["rank"], 0);  // rank 0's details, and only its record
}

TEST(StageRunner, AGroupOfOneRunsEveryStageItself) {
  testing::TempDir directory;
  distributed::ProcessGroup single;
  StudyRecord record(directory / "study.json", {{"seed", 0}}, single);
  StageRunner stages(record, 2, single);
  int runs = 0;
  stages.run_on_main("alone", directory / "alone", [&] { return io::Json{{"run", ++runs}}; });
  stages.run_shared("shared", directory / "shared", [&] { return io::Json{{"run", ++runs}}; });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(io::read_json_file(directory / "study.json")["stages"]["shared"]["run"], 2);
}

}  // namespace
}  // namespace qtalign::study
