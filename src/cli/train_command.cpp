// qtalign train: LoRA-tune a model on question-translation examples, writing a PEFT adapter.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/processes.h"
#include "distributed/process_group.h"
#include "data/question_translation.h"
#include "io/error.h"
#include "io/output_lock.h"
#include "io/provenance.h"
#include "io/progress.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/lora.h"
#include "model/vocabulary_check.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace qtalign::cli {
namespace {

struct TrainArguments {
  std::filesystem::path model_dir, data_file, out_dir;
  int64_t lora_r = 8;
  double lora_alpha = 16.0;
  double lora_dropout = 0.1;
  std::string targets = "q_proj,v_proj";
  int64_t cutoff = 2048;
  double val_ratio = 0.05;
  std::string prompt_template = "plain";
  double dist_timeout = 300.0;
  bool hash_weights = false;
  train::TrainingOptions training;
  RuntimeOptions runtime;
};

constexpr const char* kTrainDescription = R"(LoRA-tune a model on question-translation examples (JSON array or JSONL
with "input" and "target" or "answer"), writing a PEFT adapter directory to --out: adapter_config.json +
adapter_model.safetensors (the best by validation loss; final/ holds the last one), training_log.jsonl,
loss.png/.svg, checkpoint.safetensors (resume with --resume) and provenance.json (command line,
versions, hardware, base weights fingerprint, data hash).

Data-parallel over several processes (torchrun-style: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT):
  qtalign launch -n 2 -- train --model M --data D --out A                       (one machine)
  RANK=r WORLD_SIZE=n MASTER_ADDR=host0 MASTER_PORT=29500 qtalign train ...     (each process)
Gradients are summed over processes (Gloo on CPU, NCCL on CUDA), data is sharded by rank, only rank
0 writes; a process that dies or stalls for --dist-timeout seconds makes the others fail. Each process runs --batch x --grad-accum examples per step: the global batch is that times the
number of processes.)";

// Where the adapter came from, beside it (PEFT's adapter_config.json keeps only its own fields).
constexpr const char* kProvenanceFile = "provenance.json";

struct PreparedData {
  std::vector<train::TokenizedExample> train_set;
  std::vector<train::TokenizedExample> validation_set;
  int64_t truncated = 0;
  int64_t dropped = 0;
};

PreparedData prepare_data(const TrainArguments& arguments, const model::ModelConfig& config, bool report) {
  const std::vector<data::QuestionTranslationExample> examples = data::read_examples(arguments.data_file);
  const std::filesystem::path tokenizer_file = arguments.model_dir / "tokenizer.json";
  const auto tokenizer = tokenizer::Tokenizer::from_file(tokenizer_file);
  model::check_vocabulary(config, tokenizer, arguments.model_dir / "config.json", tokenizer_file);
  const size_t max_text_bytes = train::text_bytes_for_tokens(tokenizer, arguments.cutoff);
  const std::optional<int64_t> eos = config.eos_token_id ? config.eos_token_id : tokenizer.eos_id();
  const train::PromptTemplate prompt_template = train::parse_prompt_template(arguments.prompt_template);
  const std::vector<int64_t> held_out =
      train::validation_indices(static_cast<int64_t>(examples.size()), arguments.val_ratio, arguments.training.seed);

  PreparedData prepared;
  std::optional<io::Progress> progress;
  if (report) progress.emplace("tokenize", static_cast<int64_t>(examples.size()), "examples");
  size_t next_held_out = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const bool validation = next_held_out < held_out.size() && held_out[next_held_out] == int64_t(i);
    if (validation) ++next_held_out;
    const train::TextExample text{examples[i].input, examples[i].target};
    train::TokenizedExample tokenized = train::tokenize_example(tokenizer, prompt_template, text, eos, max_text_bytes);
    if (train::cut_to_length(tokenized, arguments.cutoff)) ++prepared.truncated;
    if (progress) progress->advance();
    if (tokenized.target_tokens() == 0) {
      ++prepared.dropped;
      continue;
    }
    (validation ? prepared.validation_set : prepared.train_set).push_back(std::move(tokenized));
  }
  if (progress) progress->finish();
  if (prepared.train_set.empty())
    fail_at(arguments.data_file, fmt::format("no training examples with target tokens within --cutoff {}", arguments.cutoff));
  return prepared;
}

void run_train(const TrainArguments& arguments, const ProcessRuntime* lent) {
  if (!(arguments.lora_dropout >= 0 && arguments.lora_dropout < 1))
    throw Error(fmt::format("--lora-dropout must be in [0, 1), got {}", arguments.lora_dropout));
  if (arguments.lora_r <= 0) throw Error(fmt::format("--lora-r must be positive, got {}", arguments.lora_r));
  if (arguments.cutoff < 2) throw Error(fmt::format("--cutoff must be at least 2, got {}", arguments.cutoff));
  model::LoraConfig lora;
  lora.r = arguments.lora_r;
  lora.alpha = arguments.lora_alpha;
  lora.dropout = arguments.lora_dropout;
  lora.target_modules = model::parse_lora_targets(arguments.targets);
  lora.base_model_name_or_path = arguments.model_dir.string();

  io::check_output_directory(arguments.out_dir);
  const ProcessRuntime processes = lent_or_joined(lent, arguments.runtime, arguments.dist_timeout);
  distributed::ProcessGroup& group = *processes.group;
  const at::Device device = processes.device;
  const at::ScalarType dtype = compute_dtype(arguments.runtime, device);
  const bool report = group.is_main();
  // Only rank 0 writes, so only it holds the directory.
  std::optional<io::OutputLock> lock;
  if (report) lock.emplace(arguments.out_dir);
  set_interrupt_hint("rerun the same command with --resume to continue from the last checkpoint in " +
                     arguments.out_dir.string() + " (saved every --save-every steps)");

  const model::ModelConfig config = model::read_model_config(arguments.model_dir / "config.json");
  if (config.max_position_embeddings > 0 && arguments.cutoff > config.max_position_embeddings)
    throw Error(fmt::format("--cutoff {} exceeds the model's context of {} tokens ({})", arguments.cutoff,
                            config.max_position_embeddings, (arguments.model_dir / "config.json").string()));
  const PreparedData data = prepare_data(arguments, config, report);
  if (report)
    std::fprintf(stderr, "train: %zu training and %zu validation examples (%lld cut to --cutoff %lld, %lld dropped: no target "
                 "token within it); %d process(es), %s on %s\n",
                 data.train_set.size(), data.validation_set.size(), static_cast<long long>(data.truncated),
                 static_cast<long long>(arguments.cutoff), static_cast<long long>(data.dropped), group.world_size(),
                 model::dtype_name(dtype).c_str(), device.str().c_str());

  model::LoadOptions load_options;
  load_options.dtype = dtype;
  load_options.device = device;
  load_options.quantization = quantization_options(arguments.runtime);
  model::Model model = model::load_model(arguments.model_dir, load_options);
  const train::TrainingSummary summary = train::train_lora(model, lora, data.train_set, data.validation_set,
                                                           arguments.training, group, arguments.out_dir);
  if (report) {
    io::Json provenance = io::run_provenance(device);
    provenance["base_model"] = {{"path", std::filesystem::absolute(arguments.model_dir).string()},
                                {"config_sha1", io::file_sha1(arguments.model_dir / "config.json")},
                                {"weights", io::weights_fingerprint(arguments.model_dir, arguments.hash_weights)}};
    provenance["data"] = {{"path", std::filesystem::absolute(arguments.data_file).string()},
                          {"sha1", io::file_sha1(arguments.data_file)}};
    provenance["dtype"] = model::dtype_name(dtype);
    provenance["processes"] = group.world_size();
    io::write_json_file(arguments.out_dir / kProvenanceFile, provenance);
    std::printf("trained %lld steps: training loss %.4f -> %.4f", static_cast<long long>(summary.steps),
                summary.first_loss, summary.last_loss);
    if (summary.best_validation_loss)
      std::printf(", best validation loss %.4f at step %lld", *summary.best_validation_loss,
                  static_cast<long long>(summary.best_step));
    std::printf("\nadapter: %s\n", arguments.out_dir.string().c_str());
  }
}

}  // namespace

void add_train_command(CLI::App& app, const ProcessRuntime* processes) {
  auto arguments = std::make_shared<TrainArguments>();
  arguments->runtime.dtype = "auto";
  CLI::App* command = app.add_subcommand("train", kTrainDescription);
  command->add_option("--model", arguments->model_dir, "base model checkpoint directory")->required();
  command->add_option("--data", arguments->data_file, "training examples (JSON array or JSONL)")->required();
  command->add_option("--out", arguments->out_dir, "output adapter directory")->required();
  command->add_option("--lora-r", arguments->lora_r, "LoRA rank")->capture_default_str();
  command->add_option("--lora-alpha", arguments->lora_alpha, "LoRA alpha (scale = alpha / r)")->capture_default_str();
  command->add_option("--lora-dropout", arguments->lora_dropout, "dropout on the LoRA input")->capture_default_str();
  command->add_option("--targets", arguments->targets, "modules to adapt: q/k/v/o/gate/up/down_proj, comma-separated")
      ->capture_default_str();
  command->add_option("--lr", arguments->training.lr, "peak learning rate (AdamW)")->capture_default_str();
  command->add_option("--epochs", arguments->training.epochs, "passes over the training examples")->capture_default_str();
  command->add_option("--batch", arguments->training.micro_batch, "examples per micro-batch (per process)")
      ->capture_default_str();
  command->add_option("--grad-accum", arguments->training.grad_accum, "micro-batches per optimizer step (per process)")
      ->capture_default_str();
  command->add_option("--pass-positions", arguments->training.pass_positions,
                      "run a step's micro-batches together in forward passes of up to N token positions: faster, "
                      "more memory, same results (0 = one at a time; -1 = 2048 on the 0.5B shape, fewer in "
                      "proportion to layers x hidden)")
      ->capture_default_str();
  command->add_option("--warmup-ratio", arguments->training.warmup_ratio, "fraction of steps with linear warmup")
      ->capture_default_str();
  command->add_option("--weight-decay", arguments->training.adamw.weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str();
  command->add_option("--max-grad-norm", arguments->training.max_grad_norm, "gradient-norm clipping (0 = none)")
      ->capture_default_str();
  command->add_option("--cutoff", arguments->cutoff, "maximum tokens per example (prompt + target)")->capture_default_str();
  command->add_option("--val-ratio", arguments->val_ratio, "fraction of examples held out for validation")
      ->capture_default_str();
  command->add_option("--eval-every", arguments->training.eval_every, "validation every N steps (0 = at the end only)")
      ->capture_default_str();
  command->add_option("--save-every", arguments->training.save_every, "checkpoint every N steps (0 = at the end only)")
      ->capture_default_str();
  command->add_option("--template", arguments->prompt_template, "prompt template: plain or chatml")
      ->capture_default_str();
  command->add_option("--seed", arguments->training.seed, "seed of the adapter init, data order, dropout, split")
      ->capture_default_str();
  command->add_flag("--resume", arguments->training.resume, "continue from the checkpoint in --out");
  command->add_flag("--hash-weights", arguments->hash_weights,
                    "fingerprint the base weights by their full content in provenance.json (default: headers and sizes)");
  add_dist_timeout_option(command, arguments->dist_timeout);
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments, processes, command] {
    if (arguments->val_ratio == 0)
      refuse_options_without_effect(*command, {"--eval-every"}, "--val-ratio 0 holds out no validation examples");
    run_train(*arguments, processes);
  });
}

}  // namespace qtalign::cli
