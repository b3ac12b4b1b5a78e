#pragma once
// Where the benchmark data (prompts.json and the task files) lives.
#include <filesystem>

#include "io/options.h"

namespace qtalign::data {

// The data directory: `explicit_dir` when non-empty, else $QTALIGN_DATA when set and non-empty, else
// the directory compiled in (QTALIGN_DEFAULT_DATA_DIR); throws Error naming the chosen directory (and
// how it was chosen) when it holds no prompts.json.
std::filesystem::path resolve_data_dir(const std::filesystem::path& explicit_dir = {});

// --data-dir, the benchmark data, as every command that reads it lists it.
io::OptionInfo data_dir_option();

// --tasks-dir, the task files read beside the study's (every command that takes --task names its tasks by it).
io::OptionInfo tasks_dir_option();

}  // namespace qtalign::data
