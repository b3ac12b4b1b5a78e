#pragma once
// Where the benchmark data (prompts.json and the task files) lives.
#include <filesystem>

namespace qtalign::data {

// The data directory: `explicit_dir` when non-empty, else $QTALIGN_DATA when set and non-empty, else
// the directory compiled in (QTALIGN_DEFAULT_DATA_DIR); throws Error naming the chosen directory (and
// how it was chosen) when it holds no prompts.json.
std::filesystem::path resolve_data_dir(const std::filesystem::path& explicit_dir = {});

}  // namespace qtalign::data
