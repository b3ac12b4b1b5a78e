#pragma once
// A random-weight checkpoint in the Hugging Face layout with a real tokenizer beside it (qtalign
// init-model): for trying the pipeline without downloading a model.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "model/model.h"

namespace qtalign::model {

struct InitModelSpec {
  std::filesystem::path out;
  std::string preset = "tiny";        // see preset_names()
  std::filesystem::path tokenizer;    // a tokenizer directory or tokenizer.json (empty: none)
  uint64_t seed = 0;
  at::ScalarType dtype = at::kBFloat16;
  int64_t vocab_size = 0;             // 0: the preset's, or the tokenizer's for the tiny presets
};

struct InitModelSummary {
  ModelConfig config;
  int64_t parameters = 0;
  bool tokenizer_copied = false;
};

// Writes the checkpoint of `spec` (bos/eos from the tokenizer, which is copied in with its companion
// files); throws Error when no vocabulary size follows or it is smaller than the tokenizer's.
InitModelSummary init_model(const InitModelSpec& spec);

}  // namespace qtalign::model
