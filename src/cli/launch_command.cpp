// qtalign launch: start N local processes of a qtalign command torchrun-style (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT): data-parallel training, evaluation and the
// analyses with their work shared among the processes, and the study runner with every stage on all.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "distributed/process_group.h"
#include "io/error.h"

namespace qtalign::cli {
namespace {

struct LaunchArguments {
  int processes = 2;
  int master_port = 0;
  std::vector<std::string> command;
};

constexpr const char* kLaunchDescription = R"(Run a qtalign command in N processes on this machine, torchrun-style:
  qtalign launch -n 2 -- train --model M --data D --out A    (gradients summed over the processes)
  qtalign launch -n 2 -- eval --model M --out R.json         ((task, language) pairs and items shared)
  qtalign launch -n 2 -- lens --model M --out L              (prompt batches shared; also pca)
  qtalign launch -n 2 -- run --model M --out S               (every stage on both; also study)
The study runner (run, study) joins the processes once and runs every stage on all of them: eval,
train, lens and pca share their work; rank 0 alone makes the demo model, the training sets, the
comparisons and the reports while the others wait for it. Only rank 0 writes files.
The machine's cores are split among the processes unless --threads says otherwise; on CUDA each
process takes the GPU of its LOCAL_RANK. Each process gets RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and MASTER_PORT. The same variables set by hand (or by
torchrun) start processes on several machines. When one process fails, launch names it, stops the
others and fails; rerunning the same command resumes where the run stopped.)";

void run_launch(const LaunchArguments& arguments) {
  if (arguments.processes < 1) throw Error("launch: -n must be at least 1");
  if (arguments.command.empty()) throw Error("launch: no qtalign command given after --");
  const int port = arguments.master_port > 0 ? arguments.master_port : distributed::free_loopback_port();
  std::vector<std::string> argv_strings{"qtalign"};
  argv_strings.insert(argv_strings.end(), arguments.command.begin(), arguments.command.end());
  std::vector<char*> argv;
  for (std::string& argument : argv_strings) argv.push_back(argument.data());
  argv.push_back(nullptr);

  std::fflush(nullptr);
  std::vector<pid_t> children;
  for (int rank = 0; rank < arguments.processes; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error("launch: fork failed");
    if (pid == 0) {
      const std::string world = std::to_string(arguments.processes), rank_text = std::to_string(rank);
      ::setenv("RANK", rank_text.c_str(), 1);
      ::setenv("LOCAL_RANK", rank_text.c_str(), 1);
      ::setenv("WORLD_SIZE", world.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", world.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "qtalign: error: launch: cannot execute /proc/self/exe\n");
      ::_exit(127);
    }
    children.push_back(pid);
  }

  int failed_rank = -1, failed_status = 0;
  size_t running = children.size();
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) break;
    const auto child = std::find(children.begin(), children.end(), pid);
    if (child == children.end()) continue;
    *child = -1;
    --running;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && failed_rank < 0) {
      failed_rank = static_cast<int>(child - children.begin());
      failed_status = code;
      for (pid_t other : children)
        if (other > 0) ::kill(other, SIGTERM);
    }
  }
  if (failed_rank >= 0)
    throw Error(fmt::format("launch: rank {} exited with status {} (the other processes were stopped)", failed_rank,
                            failed_status));
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto arguments = std::make_shared<LaunchArguments>();
  CLI::App* command = app.add_subcommand("launch", kLaunchDescription);
  command->add_option("-n,--nproc", arguments->processes, "number of processes")->capture_default_str();
  command->add_option("--master-port", arguments->master_port, "rendezvous port on 127.0.0.1 (0 = a free one)")
      ->capture_default_str();
  command->add_option("command", arguments->command, "the qtalign command and its arguments, after --")->required();
  command->callback([arguments] { run_launch(*arguments); });
}

}  // namespace qtalign::cli
