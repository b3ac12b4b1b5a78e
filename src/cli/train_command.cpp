// qtalign train: LoRA-tune a model on question-translation examples, writing a PEFT adapter.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "io/interruption.h"
#include "train/training_run.h"

namespace qtalign::cli {
namespace {

struct TrainArguments {
  train::TrainingSpec spec;  // but its compute settings, which follow from `runtime` on the process's device
  double dist_timeout = 300.0;
  model::ComputeRequest runtime;
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

// Adds the train subcommand with all its options, writing into `arguments`.
CLI::App* add_train_options(CLI::App& app, TrainArguments& arguments) {
  train::TrainingSpec& spec = arguments.spec;
  arguments.runtime.dtype = "auto";
  CLI::App* command = app.add_subcommand("train", kTrainDescription);
  command->add_option("--model", spec.model_dir, "base model checkpoint directory")->required();
  command->add_option("--data", spec.data_file, "training examples (JSON array or JSONL)")->required();
  command->add_option("--out", spec.out_dir, "output adapter directory")->required();
  add_training_options(command, spec.settings);
  command->add_flag("--resume", spec.resume, "continue from the checkpoint in --out");
  command->add_flag("--hash-weights", spec.hash_weights,
                    "fingerprint the base weights by their full content in provenance.json (default: headers and sizes)");
  add_dist_timeout_option(command, arguments.dist_timeout);
  add_runtime_options(command, arguments.runtime);
  return command;
}

// The spec the arguments ask for, computing on `device` (this process's).
train::TrainingSpec training_spec(const TrainArguments& arguments, at::Device device) {
  train::TrainingSpec spec = arguments.spec;
  spec.compute = model::compute_settings(arguments.runtime, device);
  return spec;
}

void print_summary(const train::TrainingSummary& summary, const std::filesystem::path& out_dir) {
  std::printf("trained %lld steps: training loss %.4f -> %.4f", static_cast<long long>(summary.steps),
              summary.first_loss, summary.last_loss);
  if (summary.best_validation_loss)
    std::printf(", best validation loss %.4f at step %lld", *summary.best_validation_loss,
                static_cast<long long>(summary.best_step));
  std::printf("\nadapter: %s\n", out_dir.string().c_str());
}

void run_train(const TrainArguments& arguments) {
  train::validate(arguments.spec.settings);  // before joining the other processes
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const train::TrainingSpec spec = training_spec(arguments, processes.device);
  const train::TrainingSummary summary = train::run(spec, *processes.group, io::set_interrupt_hint);
  if (processes.group->is_main()) print_summary(summary, spec.out_dir);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* command = add_train_options(app, *arguments);
  command->callback([arguments, command] {
    if (arguments->spec.settings.val_ratio == 0)
      refuse_options_without_effect(*command, {"--eval-every"}, "--val-ratio 0 holds out no validation examples");
    run_train(*arguments);
  });
}

train::TrainingSpec parse_train_arguments(const std::vector<std::string>& arguments) {
  CLI::App app{"qtalign"};
  TrainArguments parsed;
  add_train_options(app, parsed);
  try {
    parse_command_words(app, arguments);
  } catch (const CLI::ParseError& e) {
    throw Error(fmt::format("the train arguments were refused: {}", e.what()));
  }
  return training_spec(parsed, model::parse_device(parsed.runtime.device));
}

}  // namespace qtalign::cli
