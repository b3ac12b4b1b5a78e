#pragma once
// Merging a PEFT LoRA adapter into its base checkpoint: the `qtalign merge` run as one library call.
#include <ATen/ATen.h>

#include <filesystem>
#include <optional>

#include "model/lora.h"

namespace qtalign::model {

struct MergeSpec {
  std::filesystem::path model_dir;    // the base checkpoint
  std::filesystem::path adapter_dir;  // the PEFT adapter
  std::filesystem::path out_dir;      // the merged checkpoint (must differ from model_dir)
  std::optional<at::ScalarType> save_dtype;  // empty: the base checkpoint's own dtype
};

struct MergeSummary {
  size_t adapted_layers = 0;
  LoraConfig lora;
  at::ScalarType save_dtype = at::kFloat;
};

// Writes the base weights with the adapter added (each adapted weight merged in fp32 and rounded
// once) as a Hugging Face checkpoint, with the base's tokenizer and generation files copied. Throws
// Error for an output equal to the input, NaN/Inf in the base or the adapter, and any bad file;
// a merge killed mid-write leaves only temporaries, removed by the next merge.
MergeSummary merge_adapter(const MergeSpec& spec);

}  // namespace qtalign::model
