#pragma once
// Merging a PEFT LoRA adapter into its base checkpoint: the `qtalign merge` run as one library call.
#include <ATen/ATen.h>

#include <filesystem>
#include <optional>
#include <string>

#include "io/options.h"
#include "model/lora.h"

namespace qtalign::model {

struct MergeSpec {
  std::filesystem::path model_dir;    // the base checkpoint
  std::filesystem::path adapter_dir;  // the PEFT adapter
  std::filesystem::path out_dir;      // the merged checkpoint (must differ from model_dir)
  std::optional<at::ScalarType> save_dtype;  // empty: the base checkpoint's own dtype
};

// The dtype --save-dtype names: empty for "auto" (the base's own), else as model::parse_dtype reads it.
std::optional<at::ScalarType> parse_save_dtype(const std::string& name);

// The --save-dtype name of `dtype`: "auto" when empty.
std::string save_dtype_name(const std::optional<at::ScalarType>& dtype);

// Every option of `qtalign merge`, in its order, with the field of `spec` (const or not) each reads
// and writes; --threads is the command's own.
template <class Spec, class Visit, io::IfSpec<Spec, MergeSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--model", "base model checkpoint directory").mandatory(), spec.model_dir);
  visit(option("--adapter", "PEFT adapter directory").mandatory(), spec.adapter_dir);
  visit(option("--out", "output checkpoint directory").mandatory(), spec.out_dir);
  visit(option("--save-dtype", "dtype of the written weights: auto (the base's), fp32, bf16, fp16"),
        io::parsed(spec.save_dtype, parse_save_dtype, save_dtype_name));
  visit(option("--threads", ""), io::CommandOwned{});
}

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
