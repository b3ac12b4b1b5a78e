// qtalign run: the whole study for one model in one command (data, eval, train, eval, compare,
// lens, PCA, report), resumable; without --model, the demo on a small random model.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "study/study.h"

namespace qtalign::cli {
namespace {

struct RunArguments {
  study::StudyOptions study;
  size_t size = 0;
  RuntimeOptions runtime;
};

constexpr const char* kDescription = R"(The whole study for one model, in one command (SPEC section 1):
  data build -> eval base -> train (LoRA) -> eval tuned -> compare -> logit lens and PCA for base and
  tuned -> report (STUDY_DIR/report.html, self-contained, and report.md).
Every stage is skipped when its output already exists, so rerunning the same command resumes an
interrupted study; study.json records the settings (a rerun must use the same), each stage's status,
time and command.

Without --model, qtalign makes a small demo checkpoint (Qwen2 architecture, random weights, Qwen's
real tokenizer) in STUDY_DIR/model and runs the study on it with small limits, in minutes on a
laptop. A random model's accuracies are chance-level: real results need a real checkpoint.)";

// Runs a stage's subcommand in this process, as if typed after `qtalign`.
void run_subcommand(const std::vector<std::string>& arguments) {
  CLI::App app{"qtalign"};
  add_eval_command(app);
  add_train_command(app);
  app.require_subcommand(1);
  std::vector<std::string> reversed(arguments.rbegin(), arguments.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw Error(fmt::format("run: the stage command '{}' was refused: {}", arguments.empty() ? "" : arguments.front(),
                            e.what()));
  }
}

template <typename T>
void unless_given(const CLI::App* command, const char* option, T& field, const T& demo_value) {
  if (command->get_option(option)->count() == 0) field = demo_value;
}

void run(RunArguments& arguments, const CLI::App* command) {
  study::StudyOptions& options = arguments.study;
  if (command->get_option("--size")->count() > 0) options.size = arguments.size;
  if (options.model_dir.empty()) {
    const study::DemoSettings demo;
    if (!options.size) options.size = demo.size;
    unless_given(command, "--eval-limit", options.eval_limit, demo.eval_limit);
    unless_given(command, "--analysis-limit", options.analysis_limit, demo.analysis_limit);
    unless_given(command, "--epochs", options.epochs, demo.epochs);
    unless_given(command, "--batch", options.micro_batch, demo.micro_batch);
    unless_given(command, "--grad-accum", options.grad_accum, demo.grad_accum);
    unless_given(command, "--cutoff", options.cutoff, demo.cutoff);
    unless_given(command, "--eval-every", options.eval_every, demo.eval_every);
  }
  options.analysis_device = apply_runtime_options(arguments.runtime);
  options.analysis_dtype = compute_dtype(arguments.runtime, options.analysis_device);
  options.threads = arguments.runtime.threads;
  options.device = arguments.runtime.device;
  options.dtype = arguments.runtime.dtype;
  study::run_study(options, run_subcommand);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto arguments = std::make_shared<RunArguments>();
  study::StudyOptions& options = arguments->study;
  CLI::App* command = app.add_subcommand("run", kDescription);
  command->add_option("--out", options.out, "the study directory (STUDY_DIR)")->required();
  command->add_option("--model", options.model_dir, "Hugging Face checkpoint directory (none: the random demo model)");
  command->add_option("--task", options.task, "task whose questions are translated for tuning")->capture_default_str();
  command->add_option("--train-langs", options.train_languages, "tuning languages, e.g. zh,de")->capture_default_str();
  command->add_option("--size", arguments->size,
                      "training examples (default: 10000, or all available outside the evaluation items when fewer; "
                      "demo: 96)");
  command->add_option("--seed", options.seed, "seed of data draws, training, tie breaks, bootstrap")->capture_default_str();
  command->add_option("--eval-task", options.eval_task, "all, or one of emotion, snli, paws")->capture_default_str();
  command->add_option("--eval-langs", options.eval_languages, "languages to evaluate")->capture_default_str();
  command->add_option("--eval-limit", options.eval_limit, "items per task and language (0 = all; demo: 16)")
      ->capture_default_str();
  command->add_option("--analysis-limit", options.analysis_limit, "items per language for the lens and PCA (demo: 24)")
      ->capture_default_str();
  command->add_option("--lens-langs", options.lens_languages, "languages for the logit lens (all = all with lens prompts)")
      ->capture_default_str();
  command->add_option("--pca-langs", options.pca_languages, "languages for the representations")->capture_default_str();
  command->add_option("--pca-layers", options.pca_layers, "all, or residual-stream indices such as 0,6,12")
      ->capture_default_str();
  command->add_option("--epochs", options.epochs, "training epochs (demo: 1)")->capture_default_str();
  command->add_option("--batch", options.micro_batch, "examples per micro-batch (demo: 4)")->capture_default_str();
  command->add_option("--grad-accum", options.grad_accum, "micro-batches per optimizer step (demo: 2)")
      ->capture_default_str();
  command->add_option("--lr", options.lr, "peak learning rate")->capture_default_str();
  command->add_option("--cutoff", options.cutoff, "maximum tokens per training example (demo: 512)")->capture_default_str();
  command->add_option("--eval-every", options.eval_every, "validation every N steps (0 = at the end; demo: 0)")
      ->capture_default_str();
  command->add_option("--data-dir", options.data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  command->add_option("--demo-tokenizer", options.demo_tokenizer_dir,
                      "directory with the demo's tokenizer.json (default: Qwen's, from tools/npm)");
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments, command] { run(*arguments, command); });
}

}  // namespace qtalign::cli
