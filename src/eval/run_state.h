#pragma once
// Resuming a long evaluation: each finished (task, language) pair, and each finished piece (a run of
// consecutive items) of a pair still in flight, is stored atomically as it completes in a state
// directory beside the results file (<results>.state/); a restarted run with the same settings loads
// those and evaluates only the rest, so an interruption loses at most the pieces in flight.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "io/json_file.h"

namespace qtalign::eval {

// A stored pair's JSON: the evaluation with every item's scores.
io::Json language_evaluation_to_json(const LanguageEvaluation& evaluation);

// Parses a stored pair (`file` names it in errors); throws Error for missing or mistyped fields.
LanguageEvaluation language_evaluation_from_json(const io::Json& json, const std::filesystem::path& file);

// A finished run of consecutive items of a pair: items [begin, begin + evaluation.items.size()) of the
// pair's item list.
struct PairPiece {
  size_t begin = 0;
  LanguageEvaluation evaluation;

  size_t end() const { return begin + evaluation.items.size(); }
};

class RunState {
 public:
  // Opens <results_file>.state for a run with `settings` (everything that changes results). A fresh
  // directory records the settings, and so does one without finished pairs or pieces (a failed start); one
  // with finished pairs or pieces must hold the same settings, else Error names the first difference
  // and how to go on (the same settings, --restart, or another --out).
  RunState(const std::filesystem::path& results_file, const io::Json& settings);

  // The stored evaluation of a pair, when one was stored for a test file with this content hash.
  std::optional<LanguageEvaluation> load(const std::string& task, const std::string& language,
                                         const std::string& test_file_hash) const;
  // The stored pieces of a pair of a test file with this content hash, by their first item.
  std::vector<PairPiece> load_pieces(const std::string& task, const std::string& language,
                                     const std::string& test_file_hash) const;
  // Stores a finished pair atomically, with the content hash of its test file, and deletes its pieces.
  void store(const LanguageEvaluation& evaluation, const std::string& test_file_hash) const;
  // Stores a finished piece of a pair atomically, with the content hash of its test file.
  void store_piece(const PairPiece& piece, const std::string& test_file_hash) const;
  // Deletes the state directory (once the results file is written).
  void remove() const;

  const std::filesystem::path& directory() const { return directory_; }
  // How many finished pairs the directory holds.
  size_t stored_pairs() const;
  // How many pieces of unfinished pairs the directory holds.
  size_t stored_pieces() const;

 private:
  std::filesystem::path pair_file(const std::string& task, const std::string& language) const;
  // The names of the stored pairs' and pieces' files.
  std::vector<std::string> stored_names() const;
  // The stored piece files of a pair.
  std::vector<std::filesystem::path> piece_files(const std::string& task, const std::string& language) const;

  std::filesystem::path directory_;
};

// The state directory of a results file: "<results_file>.state".
std::filesystem::path state_directory_for(const std::filesystem::path& results_file);

}  // namespace qtalign::eval
