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

// Adds the train subcommand with all its options (train::for_each_option), writing into `arguments`.
CLI::App* add_train_options(CLI::App& app, TrainArguments& arguments) {
  CLI::App* command = app.add_subcommand("train", train::kTrainingHelp);
  add_listed_options(command, arguments.spec,
                     {{"--dist-timeout", [&] { add_dist_timeout_option(command, arguments.dist_timeout); }},
                      {"--threads", [&] { add_runtime_options(command, arguments.runtime); }}});
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
  const model::ProcessRuntime processes = model::join_processes(arguments.runtime, arguments.dist_timeout);
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
      io::refuse_options_without_effect(given_on(command), {"--eval-every"}, "--val-ratio 0 holds out no validation examples");
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
