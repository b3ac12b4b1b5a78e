#pragma once
// What the training tests share.
#include <filesystem>

#include "train/trainer.h"

namespace qtalign::testing {

// Training outputs written to `dir`, without a progress bar.
inline train::TrainingOutput quiet(const std::filesystem::path& dir) {
  train::TrainingOutput output;
  output.dir = dir;
  output.show_progress = false;
  return output;
}

}  // namespace qtalign::testing
