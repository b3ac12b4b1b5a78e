#pragma once
// A random-weight checkpoint in the Hugging Face layout with a real tokenizer beside it (qtalign
// init-model): for trying the pipeline without downloading a model.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "io/options.h"
#include "model/dtype.h"
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

// Every option of `qtalign init-model`, in its order, with the field of `spec` (const or not) each
// reads and writes.
template <class Spec, class Visit, io::IfSpec<Spec, InitModelSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--out", "checkpoint directory to write").mandatory(), spec.out);
  visit(option("--preset", "architecture and shape (listed below)").shown(), spec.preset);
  visit(option("--tokenizer",
               "tokenizer directory or tokenizer.json to copy in; sets bos/eos and the default vocabulary size"),
        spec.tokenizer);
  visit(option("--seed", "seed of the random weights").shown(), spec.seed);
  visit(option("--dtype", "dtype of the stored weights: bf16 or fp32").one_of({"bf16", "fp32"}),
        io::parsed(spec.dtype, parse_dtype, dtype_name));
  visit(option("--vocab-size", "vocabulary size (default: the preset's, or the tokenizer's for tiny)").at_least(1),
        spec.vocab_size);
}

struct InitModelSummary {
  ModelConfig config;
  int64_t parameters = 0;
  bool tokenizer_copied = false;
};

// Writes the checkpoint of `spec` (bos/eos from the tokenizer, which is copied in with its companion
// files); throws Error when no vocabulary size follows or it is smaller than the tokenizer's.
InitModelSummary init_model(const InitModelSpec& spec);

// What `qtalign init-model --help` says below its options: the presets and the memory used.
extern const char* const kInitModelHelp;

}  // namespace qtalign::model
