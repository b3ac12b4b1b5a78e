// Launch: N processes of this program, each the leader of its own process group, watched with the
// signals blocked and taken by sigtimedwait.
#include "distributed/launch.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "distributed/process_group.h"
#include "io/error.h"

namespace qtalign::distributed {
namespace {

using Clock = std::chrono::steady_clock;

// Set in every process launch starts (to its rank): a launch inside a launch would start processes
// in process groups the outer launch does not know, which live on when it stops its own.
constexpr const char* kLaunchedVariable = "QTALIGN_LAUNCH_RANK";

// The signals launch takes itself (blocked, taken by sigtimedwait) while its processes run: a process
// that ended, an interruption (which only launch's own process group receives from the terminal) and
// Ctrl-Z, both passed on to every process group.
sigset_t signals_taken() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal_number : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGTSTP}) sigaddset(&set, signal_number);
  return set;
}

// The next signal of signals_taken() within `timeout` (0 when none came).
int next_signal(std::chrono::milliseconds timeout) {
  const sigset_t set = signals_taken();
  const timespec wait{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000000};
  const int signal_number = ::sigtimedwait(&set, nullptr, &wait);
  return signal_number < 0 ? 0 : signal_number;
}

// Whether a process group still has a process.
bool group_alive(pid_t group) { return ::kill(-group, 0) == 0 || errno == EPERM; }

// How a launch ended: the first process that failed, or the signal that interrupted launch.
struct Outcome {
  int failed_rank = -1;
  int failed_status = 0;
  int interrupted_by = 0;
};

// The processes of a launch, each the leader of its own process group, which the processes it starts
// join: stopping a group stops a process and everything it started.
class Ranks {
 public:
  // Starts `count` processes running `argv` with the torchrun variables; `mask` is the signal mask
  // they get (launch's own, before it blocked signals_taken()). Throws Error when a fork fails, after
  // stopping the processes started.
  Ranks(std::vector<char*>& argv, int count, int port, const sigset_t& mask, double stop_grace)
      : stop_grace_(stop_grace) {
    std::fflush(nullptr);
    const pid_t launcher = ::getpid();
    for (int rank = 0; rank < count; ++rank) {
      const pid_t pid = ::fork();
      if (pid < 0) {
        stop(SIGTERM);
        throw Error(fmt::format("launch: fork of rank {} failed (the processes started were stopped)", rank));
      }
      if (pid == 0) exec_rank(argv, rank, count, port, mask, launcher);
      // Also here, so that no signal of stop() can reach the group before the child made it.
      ::setpgid(pid, pid);
      pids_.push_back(pid);
      exited_.push_back(false);
    }
  }

  // Waits until every process exited, one failed, or launch was interrupted.
  Outcome wait() {
    while (outcome_.failed_rank < 0 && std::count(exited_.begin(), exited_.end(), false) > 0) {
      const int signal_number = next_signal(std::chrono::milliseconds(1000));
      if (signal_number == SIGINT || signal_number == SIGTERM || signal_number == SIGHUP) {
        outcome_.interrupted_by = signal_number;
        break;
      }
      if (signal_number == SIGTSTP) pause_while_launch_is_stopped();
      reap();
    }
    return outcome_;
  }

  // Sends `signal_number` to every process group that has a process, SIGKILL to those left after
  // the grace period (or at a second interruption), and returns once no group has a process.
  void stop(int signal_number) {
    signal_groups(signal_number);
    const auto kill_at = Clock::now() + std::chrono::duration<double>(stop_grace_);
    bool killed = false;
    for (;;) {
      reap();
      if (std::none_of(pids_.begin(), pids_.end(), group_alive)) return;
      if (!killed && Clock::now() >= kill_at) {
        signal_groups(SIGKILL);
        killed = true;
      }
      const int next = next_signal(std::chrono::milliseconds(50));
      if (!killed && (next == SIGINT || next == SIGTERM || next == SIGHUP)) {
        signal_groups(SIGKILL);
        killed = true;
      }
    }
  }

 private:
  [[noreturn]] static void exec_rank(std::vector<char*>& argv, int rank, int count, int port, const sigset_t& mask,
                                     pid_t launcher) {
    ::setpgid(0, 0);
    // Ends with launch even when launch is killed (SIGKILL) and cannot stop it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != launcher) ::_exit(128 + SIGTERM);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    const std::string world = std::to_string(count), rank_text = std::to_string(rank);
    ::setenv("RANK", rank_text.c_str(), 1);
    ::setenv("LOCAL_RANK", rank_text.c_str(), 1);
    ::setenv("WORLD_SIZE", world.c_str(), 1);
    ::setenv("LOCAL_WORLD_SIZE", world.c_str(), 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    ::setenv(kLaunchedVariable, rank_text.c_str(), 1);
    ::execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "qtalign: error: launch: cannot execute /proc/self/exe\n");
    ::_exit(127);
  }

  void signal_groups(int signal_number) const {
    for (pid_t group : pids_)
      if (group_alive(group)) ::kill(-group, signal_number);
  }

  // Ctrl-Z: stops every process group, then launch; `fg` or `bg` continues launch, which continues them.
  void pause_while_launch_is_stopped() const {
    signal_groups(SIGSTOP);
    ::raise(SIGSTOP);
    signal_groups(SIGCONT);
  }

  // Collects every process that ended: the ranks, and their children left to launch (a subreaper).
  void reap() {
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      const auto rank = std::find(pids_.begin(), pids_.end(), pid);
      if (rank == pids_.end() || exited_[rank - pids_.begin()]) continue;
      exited_[rank - pids_.begin()] = true;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0 && outcome_.failed_rank < 0) {
        outcome_.failed_rank = static_cast<int>(rank - pids_.begin());
        outcome_.failed_status = code;
      }
    }
  }

  double stop_grace_;
  std::vector<pid_t> pids_;  // of each rank, also its process group's id
  std::vector<bool> exited_;
  Outcome outcome_;
};

}  // namespace

void launch(const LaunchSpec& spec) {
  if (const char* rank = std::getenv(kLaunchedVariable))
    throw Error(fmt::format("launch: this process is rank {} of a qtalign launch ({} is set): a launch inside a "
                            "launch starts processes the outer one cannot stop; give the command to one launch "
                            "(qtalign launch -n N -- COMMAND)",
                            rank, kLaunchedVariable));
  if (spec.processes < 1) throw Error("launch: -n must be at least 1");
  if (spec.command.empty()) throw Error("launch: no qtalign command given after --");
  const int port = spec.master_port > 0 ? spec.master_port : free_loopback_port();
  std::vector<std::string> argv_strings{"qtalign"};
  argv_strings.insert(argv_strings.end(), spec.command.begin(), spec.command.end());
  std::vector<char*> argv;
  for (std::string& argument : argv_strings) argv.push_back(argument.data());
  argv.push_back(nullptr);

  // The processes' children left without a parent become launch's, so stop() can wait for them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const sigset_t taken = signals_taken();
  sigset_t mask;
  ::sigprocmask(SIG_BLOCK, &taken, &mask);
  Ranks ranks(argv, spec.processes, port, mask, spec.stop_grace);
  const Outcome outcome = ranks.wait();
  ranks.stop(outcome.interrupted_by != 0 ? outcome.interrupted_by : SIGTERM);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  // Ends as an interrupted command does (main's handler: one line, then the signal's status).
  if (outcome.interrupted_by != 0) ::raise(outcome.interrupted_by);
  if (outcome.failed_rank >= 0)
    throw Error(fmt::format("launch: rank {} exited with status {} (the other processes were stopped)",
                            outcome.failed_rank, outcome.failed_status));
}

const char* const kLaunchHelp = R"(Run a qtalign command in N processes on this machine, torchrun-style:
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
others and fails; rerunning the same command resumes where the run stopped.
Each process runs in its own process group, which launch stops as a whole (SIGTERM, then SIGKILL
after --stop-grace seconds) and waits for before it returns; Ctrl-C, SIGTERM and SIGHUP reach every
process through launch. A launch inside a launch is refused.)";

}  // namespace qtalign::distributed
