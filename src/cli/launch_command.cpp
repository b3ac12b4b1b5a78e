// qtalign launch: start N local processes of a qtalign command torchrun-style (distributed/launch.h).
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "distributed/launch.h"

namespace qtalign::cli {

void add_launch_command(CLI::App& app) {
  auto spec = std::make_shared<distributed::LaunchSpec>();
  CLI::App* command = app.add_subcommand("launch", distributed::kLaunchHelp);
  add_listed_options(command, *spec);
  command->callback([spec] { distributed::launch(*spec); });
}

}  // namespace qtalign::cli
