#pragma once
// Each subcommand adds itself to the program here; its file holds its options and its run.
#include <CLI/CLI.hpp>

namespace qtalign::cli {

}  // namespace qtalign::cli
