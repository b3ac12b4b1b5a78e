#include "distributed/process_group.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "distributed/distributed_test_support.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::distributed {
namespace {

using Variables = std::vector<std::pair<const char*, const char*>>;

// Sets the torchrun variables for one test and clears them after.
class Environment {
 public:
  explicit Environment(const Variables& variables = {}) {
    for (const char* name : kNames) ::unsetenv(name);
    for (const auto& [name, value] : variables) ::setenv(name, value, 1);
  }
  ~Environment() {
    for (const char* name : kNames) ::unsetenv(name);
  }

 private:
  static constexpr const char* kNames[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                           "MASTER_PORT"};
};

TEST(DistributedEnv, ReadsTorchrunVariables) {
  {
    const Environment none;
    const DistributedEnv env = distributed_env_from_environment();
    EXPECT_EQ(env.world_size, 1);
    EXPECT_EQ(env.rank, 0);
  }
  const Environment set(Variables{{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                         {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29511"}});
  const DistributedEnv env = distributed_env_from_environment();
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "10.0.0.2");
  EXPECT_EQ(env.master_port, 29511);
  EXPECT_EQ(device_for_process(env, at::Device("cuda")), at::Device(at::kCUDA, 1));
  EXPECT_EQ(device_for_process(env, at::Device("cuda:0")), at::Device(at::kCUDA, 0));
  EXPECT_EQ(device_for_process(env, at::kCPU), at::Device(at::kCPU));
}

TEST(DistributedEnv, RejectsPartialOrInconsistentVariables) {
  {
    const Environment partial(Variables{{"RANK", "0"}});
    EXPECT_NE(testing::error_of([] { distributed_env_from_environment(); }).find("RANK and WORLD_SIZE"), std::string::npos);
  }
  {
    const Environment beyond(Variables{{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1"}});
    EXPECT_NE(testing::error_of([] { distributed_env_from_environment(); }).find("RANK='2'"), std::string::npos);
  }
  const Environment no_master(Variables{{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  EXPECT_NE(testing::error_of([] { distributed_env_from_environment(); }).find("MASTER_ADDR"), std::string::npos);
}

TEST(DistributedEnv, SharesTheCoresAmongTheProcessesOfAMachine) {
  DistributedEnv env;
  EXPECT_EQ(threads_per_process(env, 0), 0);  // one process: all cores, as without the variables
  EXPECT_EQ(threads_per_process(env, 3), 3);
  env.world_size = 8;
  env.local_world_size = 2;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(threads_per_process(env, 0), std::max(1, cores / 2));
  EXPECT_EQ(threads_per_process(env, 5), 5);
}

TEST(ProcessGroup, SumsAndGathersOverTheRanks) {
  const auto results = testing::on_every_rank<std::vector<std::string>>(3, [](ProcessGroup& group) {
    at::Tensor values = at::tensor({1.0, double(group.rank())}, at::kDouble);
    group.all_reduce_sum(values);
    EXPECT_EQ(values[0].item<double>(), 3.0);
    EXPECT_EQ(values[1].item<double>(), 0.0 + 1.0 + 2.0);
    // Rank 1 sends nothing; rank 2 sends bytes that are not text.
    const std::string mine = group.rank() == 0 ? "rank zero" : group.rank() == 1 ? "" : std::string("\0\xff\n", 3);
    std::vector<std::string> texts = group.all_gather_text(mine);
    group.barrier();
    return texts;
  });
  for (const auto& texts : results)
    EXPECT_EQ(texts, (std::vector<std::string>{"rank zero", "", std::string("\0\xff\n", 3)}));
}

// Every rank takes rank 0's decision, whatever its own, for either value.
TEST(ProcessGroup, BroadcastsRankZerosFlag) {
  const auto results = testing::on_every_rank<std::vector<bool>>(3, [](ProcessGroup& group) {
    return std::vector<bool>{group.broadcast_flag(group.rank() == 0), group.broadcast_flag(group.rank() != 0)};
  });
  for (const auto& flags : results) EXPECT_EQ(flags, (std::vector<bool>{true, false}));
}

TEST(ProcessGroup, AGroupOfOneReturnsItsInput) {
  ProcessGroup single;
  at::Tensor values = at::tensor({2.0, 5.0});
  single.all_reduce_sum(values);
  EXPECT_TRUE(at::equal(values, at::tensor({2.0, 5.0})));
  EXPECT_EQ(single.all_gather_text("x"), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(single.broadcast_flag(true));
  EXPECT_FALSE(single.broadcast_flag(false));
}

// Rank 1 leaves the group without entering the collective rank 0 waits in: rank 0 fails, naming it.
TEST(ProcessGroup, ACollectiveNamesTheRankThatLeft) {
  const auto errors = testing::on_every_rank<std::string>(2, [](ProcessGroup& group) {
    group.barrier();
    if (group.rank() == 1) return std::string();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return testing::error_of([&] {
      at::Tensor values = at::ones({4});
      group.all_reduce_sum(values);
    });
  });
  EXPECT_NE(errors[0].find("rank 0 of 2: all-reduce number 2 failed"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("rank 1 died or stopped answering before reaching it"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace qtalign::distributed
