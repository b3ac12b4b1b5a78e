#include "data/data_dir.h"

#include <cstdlib>
#include <string>

#include "io/error.h"

namespace qtalign::data {

std::filesystem::path resolve_data_dir(const std::filesystem::path& explicit_dir) {
  std::filesystem::path directory;
  std::string chosen_by;
  const char* from_environment = std::getenv("QTALIGN_DATA");
  if (!explicit_dir.empty()) {
    directory = explicit_dir;
    chosen_by = "--data-dir";
  } else if (from_environment && *from_environment) {
    directory = from_environment;
    chosen_by = "QTALIGN_DATA";
  } else {
    directory = QTALIGN_DEFAULT_DATA_DIR;
    chosen_by = "the built-in default; set --data-dir or QTALIGN_DATA";
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(directory / "prompts.json", error))
    fail_at(directory, "not a qtalign data directory: no prompts.json (chosen by " + chosen_by + ")");
  return directory;
}

io::OptionInfo data_dir_option() {
  return io::option("--data-dir", "benchmark data (default: $QTALIGN_DATA, then built-in)");
}

io::OptionInfo tasks_dir_option() {
  return io::option("--tasks-dir",
                    "task files (*.json) beside the study's tasks (default: $QTALIGN_TASKS, then <data-dir>/tasks)");
}

}  // namespace qtalign::data
