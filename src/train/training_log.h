#pragma once
// The training log: one JSON object per optimizer step (step, epoch, lr, loss, grad_norm,
// tokens_per_second, elapsed_seconds, and val_loss at evaluation steps), kept in memory and, on the
// process that writes outputs, appended to a JSONL file; plus the loss curves as PNG and SVG.
#include <filesystem>
#include <fstream>
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

// Plots training loss (and validation loss where recorded) against step to stem.png and stem.svg;
// does nothing for a log without records.
void plot_losses(const std::vector<io::Json>& records, const std::filesystem::path& stem);

}  // namespace qtalign::train
