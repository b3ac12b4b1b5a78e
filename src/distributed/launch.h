#pragma once
// Starting N local processes of a qtalign command torchrun-style (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each in a process group of its own, and stopping them
// all when one fails or the launch is interrupted.
#include <string>
#include <vector>

#include "io/options.h"

namespace qtalign::distributed {

struct LaunchSpec {
  int processes = 2;
  int master_port = 0;       // 0: a free loopback port
  double stop_grace = 10.0;  // seconds between SIGTERM and SIGKILL when stopping the processes
  std::vector<std::string> command;  // the qtalign command and its arguments (without "qtalign")
};

// Every option of `qtalign launch`, in its order, with the field of `spec` (const or not) each reads
// and writes; the last is the positional command after --.
template <class Spec, class Visit, io::IfSpec<Spec, LaunchSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("-n,--nproc", "number of processes").shown(), spec.processes);
  visit(option("--master-port", "rendezvous port on 127.0.0.1 (0 = a free one)").shown(), spec.master_port);
  visit(option("--stop-grace", "seconds the processes get to end after SIGTERM before SIGKILL, when launch stops them")
            .shown()
            .at_least(0),
        spec.stop_grace);
  visit(option("command", "the qtalign command and its arguments, after --").mandatory(), spec.command);
}

// Runs spec.command in spec.processes processes of this program and returns once all succeeded;
// throws Error naming the first rank that failed (the others stopped), for a launch inside a launch
// or a bad spec; an interrupting signal (SIGINT, SIGTERM, SIGHUP) is passed on and then raised again.
void launch(const LaunchSpec& spec);

// What `qtalign launch --help` says of launching: the processes, their variables, how they stop.
extern const char* const kLaunchHelp;

}  // namespace qtalign::distributed
