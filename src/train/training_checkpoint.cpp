#include "train/training_checkpoint.h"

#include <fmt/format.h>

#include "io/error.h"
#include "io/safetensors.h"

namespace qtalign::train {
namespace {

const char* const kStateKey = "qtalign_training_state";
const char* const kAdapterPrefix = "adapter/";
const char* const kOptimizerPrefix = "optimizer/";

}  // namespace

void save_training_checkpoint(const TrainingCheckpoint& checkpoint, const std::filesystem::path& file) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, tensor] : checkpoint.adapter) tensors.emplace_back(kAdapterPrefix + name, tensor.detach());
  for (const auto& [name, tensor] : checkpoint.optimizer) tensors.emplace_back(kOptimizerPrefix + name, tensor.detach());
  io::Json state = {
      {"step", checkpoint.step},
      {"best_validation_loss", checkpoint.best_validation_loss ? io::Json(*checkpoint.best_validation_loss) : io::Json()},
      {"best_step", checkpoint.best_step},
      {"settings", checkpoint.settings},
      {"log", checkpoint.log},
  };
  io::write_safetensors(file, tensors, {{kStateKey, state.dump()}});
}

TrainingCheckpoint load_training_checkpoint(const std::filesystem::path& file) {
  const auto safetensors = io::SafetensorsFile::open(file);
  const auto& metadata = safetensors->header().metadata;
  const auto found = metadata.find(kStateKey);
  if (found == metadata.end()) fail_at(file, "not a qtalign training checkpoint (no training state in its metadata)");
  io::Json state;
  try {
    state = io::Json::parse(found->second);
  } catch (const io::Json::exception& e) {
    fail_at(file, std::string("training state is not valid JSON: ") + e.what());
  }
  TrainingCheckpoint checkpoint;
  checkpoint.step = io::required_field<int64_t>(state, "step", file, "training state");
  if (state.contains("best_validation_loss") && !state["best_validation_loss"].is_null())
    checkpoint.best_validation_loss = io::required_field<double>(state, "best_validation_loss", file, "training state");
  checkpoint.best_step = io::required_field<int64_t>(state, "best_step", file, "training state");
  checkpoint.settings = io::required_field<io::Json>(state, "settings", file, "training state");
  checkpoint.log = io::required_field<std::vector<io::Json>>(state, "log", file, "training state");
  for (const io::TensorRecord& record : safetensors->header().tensors) {
    // Copies: the mapping closes with `safetensors`, and training updates these tensors in place.
    const at::Tensor tensor = safetensors->tensor(record.name).clone();
    if (record.name.rfind(kAdapterPrefix, 0) == 0)
      checkpoint.adapter.emplace_back(record.name.substr(std::string(kAdapterPrefix).size()), tensor);
    else if (record.name.rfind(kOptimizerPrefix, 0) == 0)
      checkpoint.optimizer.emplace_back(record.name.substr(std::string(kOptimizerPrefix).size()), tensor);
    else
      fail_at(file, fmt::format("unexpected tensor '{}' in a training checkpoint", record.name));
  }
  return checkpoint;
}

void check_resume_settings(const io::Json& saved, const io::Json& current, const std::filesystem::path& file) {
  std::string differences;
  for (const auto& [key, value] : current.items()) {
    const io::Json before = saved.contains(key) ? saved[key] : io::Json();
    if (before != value)
      differences += fmt::format("{}{} was {}, now {}", differences.empty() ? "" : "; ", key, before.dump(), value.dump());
  }
  if (!differences.empty())
    fail_at(file, "cannot resume: the checkpoint was written with other settings (" + differences +
                      "); use the original settings or another --out");
}

}  // namespace qtalign::train
