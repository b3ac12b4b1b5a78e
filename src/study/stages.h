#pragma once
// The bookkeeping of a resumable pipeline: study.json (the settings a resumed run must share and a log
// of its stages, in the order they ran) and the runner that skips a stage whose output exists.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace qtalign::study {

// Runs one qtalign subcommand in this process, e.g. {"eval", "--model", "M", ...}; the command-line
// layer supplies it for the stages whose pipelines are only reachable through their subcommands.
using SubcommandRunner = std::function<void(const std::vector<std::string>& arguments)>;

// study.json: {"format", "settings", "stages": {name: {status, seconds, finished, order, ...}}, ...}.
class StudyRecord {
 public:
  // Opens the record, or starts one; throws Error naming the file when it holds other settings.
  StudyRecord(std::filesystem::path file, const io::Json& settings);

  // Sets a top-level field and saves.
  void set(const std::string& key, io::Json value);

  // Records a stage's outcome (a skipped stage keeps its first record, with the check beside it).
  void stage(const std::string& name, const std::string& status, double seconds, io::Json details = io::Json::object());

 private:
  void save() const;
  std::filesystem::path file_;
  io::Json record_;
};

class StageRunner {
 public:
  StageRunner(StudyRecord& record, int total) : record_(record), total_(total) {}

  // Runs `work` unless `done` already exists; `work` returns details for study.json.
  template <typename Work>
  void run(const std::string& name, const std::filesystem::path& done, Work&& work) {
    if (begin(name, done)) finish(name, work());
  }

  // The number of stages announced so far.
  int index() const { return index_; }

 private:
  bool begin(const std::string& name, const std::filesystem::path& done);
  void finish(const std::string& name, io::Json details);

  StudyRecord& record_;
  int total_;
  int index_ = 0;
  double started_ = 0.0;
};

// The command line of a subcommand as a user would type it (arguments with spaces or quotes quoted).
std::string quoted_command(const std::vector<std::string>& arguments);

}  // namespace qtalign::study
