#pragma once
// A checkpoint ready for analysis: the model (with an adapter attached when asked), its tokenizer and
// a provenance record (paths, content hashes, dtype, device) for the outputs made with it.
#include <ATen/ATen.h>

#include <filesystem>

#include "io/json_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::study {

struct LoadedModel {
  model::Model model;
  tokenizer::Tokenizer tokenizer;
  io::Json provenance;
};

// Loads <model_dir> (config.json, weights, tokenizer.json), its linear weights quantized as asked, and
// attaches the PEFT adapter in `adapter_dir` unless it is empty; throws Error naming the file for
// anything missing or malformed, for the tokenizer and adapter_config.json before reading any weight.
LoadedModel load_model_for_analysis(const std::filesystem::path& model_dir, const std::filesystem::path& adapter_dir,
                                    at::ScalarType dtype, at::Device device,
                                    const model::QuantizationOptions& quantization);

// Replaces the attached adapter (if any) by the one in `adapter_dir` (none when empty) and updates
// the provenance; lets one loaded base model serve the base and tuned analyses in turn.
void use_adapter(LoadedModel& loaded, const std::filesystem::path& adapter_dir);

}  // namespace qtalign::study
