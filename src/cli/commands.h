#pragma once
// Each subcommand adds itself to the program here; its file holds its options and its run.
#include <CLI/CLI.hpp>

namespace qtalign::cli {

// qtalign data build|show|check (src/cli/data_command.cpp).
void add_data_command(CLI::App& app);

// qtalign eval (src/cli/eval_command.cpp).
void add_eval_command(CLI::App& app);

// qtalign compare (src/cli/compare_command.cpp).
void add_compare_command(CLI::App& app);

}  // namespace qtalign::cli
