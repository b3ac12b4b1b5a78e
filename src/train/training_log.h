#pragma once
// The training log: one JSON object per optimizer step (step, epoch, lr, loss, grad_norm,
// tokens_per_second, elapsed_seconds, and val_loss at evaluation steps), kept in memory and, on the
// process that writes outputs, appended to a JSONL file; plus the loss curves as PNG and SVG.
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "io/json_file.h"

namespace qtalign::train {

class TrainingLog {
 public:
  // A log holding `records` (a resumed run's, or none). With a non-empty `file`, the file is
  // rewritten atomically to hold exactly those records and later ones are appended to it.
  TrainingLog(std::filesystem::path file, std::vector<io::Json> records);

  // Adds a record (and its line to the file, flushed).
  void append(io::Json record);
  const std::vector<io::Json>& records() const { return records_; }

 private:
  std::filesystem::path file_;
  std::vector<io::Json> records_;
  std::ofstream stream_;
};

// What a training run did, as its log tells it (a resumed run's log holds the steps before the resumption too).
struct TrainingSummary {
  int64_t steps = 0;         // step of the last record
  double first_loss = 0.0;   // training loss of the first record
  double last_loss = 0.0;    // training loss of the last record
  std::optional<double> best_validation_loss;  // the lowest val_loss (none without validation)
  int64_t best_step = 0;     // the step of its first record
};

// The summary of a log's records (zeros for none).
TrainingSummary summarize(const std::vector<io::Json>& records);

// training_summary.json's fields: {"steps", "first_loss", "last_loss"} and, with validation,
// {"best_val_loss", "best_step"}.
io::Json to_json(const TrainingSummary& summary);

// Plots training loss (and validation loss where recorded) against step to stem.png and stem.svg;
// does nothing for a log without records.
void plot_losses(const std::vector<io::Json>& records, const std::filesystem::path& stem);

}  // namespace qtalign::train
