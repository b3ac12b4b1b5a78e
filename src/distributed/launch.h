#pragma once
// Starting N local processes of a qtalign command torchrun-style (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each in a process group of its own, and stopping them
// all when one fails or the launch is interrupted.
#include <string>
#include <vector>

namespace qtalign::distributed {

struct LaunchSpec {
  int processes = 2;
  int master_port = 0;       // 0: a free loopback port
  double stop_grace = 10.0;  // seconds between SIGTERM and SIGKILL when stopping the processes
  std::vector<std::string> command;  // the qtalign command and its arguments (without "qtalign")
};

// Runs spec.command in spec.processes processes of this program and returns once all succeeded;
// throws Error naming the first rank that failed (the others stopped), for a launch inside a launch
// or a bad spec; an interrupting signal (SIGINT, SIGTERM, SIGHUP) is passed on and then raised again.
void launch(const LaunchSpec& spec);

}  // namespace qtalign::distributed
