// qtalign launch: start N local processes of a qtalign command torchrun-style (distributed/launch.h).
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "distributed/launch.h"

namespace qtalign::cli {
namespace {

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
others and fails; rerunning the same command resumes where the run stopped.
Each process runs in its own process group, which launch stops as a whole (SIGTERM, then SIGKILL
after --stop-grace seconds) and waits for before it returns; Ctrl-C, SIGTERM and SIGHUP reach every
process through launch. A launch inside a launch is refused.)";

}  // namespace

void add_launch_command(CLI::App& app) {
  auto spec = std::make_shared<distributed::LaunchSpec>();
  CLI::App* command = app.add_subcommand("launch", kLaunchDescription);
  command->add_option("-n,--nproc", spec->processes, "number of processes")->capture_default_str();
  command->add_option("--master-port", spec->master_port, "rendezvous port on 127.0.0.1 (0 = a free one)")
      ->capture_default_str();
  command->add_option("--stop-grace", spec->stop_grace,
                      "seconds the processes get to end after SIGTERM before SIGKILL, when launch stops them")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("command", spec->command, "the qtalign command and its arguments, after --")->required();
  command->callback([spec] { distributed::launch(*spec); });
}

}  // namespace qtalign::cli
