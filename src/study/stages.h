#pragma once
// The bookkeeping of a resumable pipeline: study.json (the settings a resumed run must share and a log
// of its stages, in the order they ran) and the runner that skips a stage whose output exists.
//
// Over several processes every rank walks the same stages in lockstep: rank 0 decides whether a
// stage is done (only it is sure to see the files) and tells the others, a shared stage runs on every
// rank (its work spread over the group), and any other stage runs on rank 0 while the others wait at
// a barrier. Only rank 0 keeps study.json and reports the stages.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "io/json_file.h"

namespace qtalign::study {

// study.json: {"format", "settings", "stages": {name: {status, seconds, finished, order, ...}}, ...}.
class StudyRecord {
 public:
  // Opens the record, or starts one (creating its directory); throws Error naming the file when it
  // holds other settings. On ranks other than 0 of `group` the record reads and writes nothing.
  StudyRecord(std::filesystem::path file, const io::Json& settings, const distributed::ProcessGroup& group);

  // Sets a top-level field and saves.
  void set(const std::string& key, io::Json value);

  // Records a stage's outcome (a skipped stage keeps its first record, with the check beside it).
  void stage(const std::string& name, const std::string& status, double seconds, io::Json details = io::Json::object());

 private:
  void save() const;
  std::filesystem::path file_;
  bool keeper_;  // rank 0: the only one that reads and writes the file
  io::Json record_;
};

class StageRunner {
 public:
  StageRunner(StudyRecord& record, int total, distributed::ProcessGroup& group)
      : record_(record), total_(total), group_(group) {}

  // A stage whose work is shared over the group: every rank runs `work` unless rank 0 finds `done`;
  // `work` returns details for study.json (rank 0's are kept).
  template <typename Work>
  void run_shared(const std::string& name, const std::filesystem::path& done, Work&& work) {
    if (begin(name, done)) finish(name, work());
  }

  // A stage of one process: rank 0 runs `work` unless it finds `done`, while the others wait for it
  // at a barrier (which fails, naming rank 0, when rank 0 dies or outlasts the group's timeout).
  template <typename Work>
  void run_on_main(const std::string& name, const std::filesystem::path& done, Work&& work) {
    if (!begin(name, done)) return;
    io::Json details = group_.is_main() ? work() : io::Json::object();
    group_.barrier();
    finish(name, std::move(details));
  }

 private:
  bool begin(const std::string& name, const std::filesystem::path& done);
  void finish(const std::string& name, io::Json details);

  StudyRecord& record_;
  int total_;
  distributed::ProcessGroup& group_;
  int index_ = 0;
  double started_ = 0.0;
};

// The command line of a subcommand as a user would type it (arguments with spaces or quotes quoted).
std::string quoted_command(const std::vector<std::string>& arguments);

}  // namespace qtalign::study
