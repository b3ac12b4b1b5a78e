#pragma once
// Resuming a long evaluation: each finished (task, language) is stored, atomically, as it completes in
// a state directory beside the results file (<results>.state/); a restarted run with the same settings
// loads those and evaluates only the rest, so an interruption loses at most the pair in flight.
#include <filesystem>
#include <optional>
#include <string>

#include "eval/evaluator.h"
#include "io/json_file.h"

namespace qtalign::eval {

// A stored pair's JSON: the evaluation with every item's scores.
io::Json language_evaluation_to_json(const LanguageEvaluation& evaluation);

// Parses a stored pair (`file` names it in errors); throws Error for missing or mistyped fields.
LanguageEvaluation language_evaluation_from_json(const io::Json& json, const std::filesystem::path& file);

class RunState {
 public:
  // Opens <results_file>.state for a run with `settings` (everything that changes results). A fresh
  // directory records the settings, and so does one without finished pairs (a failed start); one
  // with finished pairs must hold the same settings, else Error names the first difference and how
  // to go on (the same settings, --restart, or another --out).
  RunState(const std::filesystem::path& results_file, const io::Json& settings);

  // The stored evaluation of a pair, when one was stored for a test file with this content hash.
  std::optional<LanguageEvaluation> load(const std::string& task, const std::string& language,
                                         const std::string& test_file_hash) const;
  // Stores a finished pair atomically, with the content hash of its test file.
  void store(const LanguageEvaluation& evaluation, const std::string& test_file_hash) const;
  // Deletes the state directory (once the results file is written).
  void remove() const;

  const std::filesystem::path& directory() const { return directory_; }
  // How many finished pairs the directory holds.
  size_t stored_pairs() const;

 private:
  std::filesystem::path pair_file(const std::string& task, const std::string& language) const;

  std::filesystem::path directory_;
};

// The state directory of a results file: "<results_file>.state".
std::filesystem::path state_directory_for(const std::filesystem::path& results_file);

}  // namespace qtalign::eval
