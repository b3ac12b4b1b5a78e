// qtalign run: the whole study for one model in one command (data, eval, train, eval, compare,
// lens, PCA, report), resumable; without --model, the demo on a small model. With several values
// for --train-langs, --target, --labels or --shots it runs the grid, as `qtalign study` does.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/study_arguments.h"
#include "cli/training_options.h"
#include "io/error.h"
#include "io/output_lock.h"
#include "study/study.h"

namespace qtalign::cli {

const char* const kStudyProcessesHelp = R"(On several processes (qtalign launch -n N -- ..., or torchrun) every stage runs on all of them:
evaluations, trainings (data-parallel; an optimizer step stays --batch x --grad-accum examples, so
--grad-accum must be a multiple of N) and the lens and PCA share their work; rank 0 alone makes the
demo model, the training sets, the comparisons and the reports while the others wait for it, at most
--dist-timeout seconds. The study folder holds the files one process writes (adapters up to float
rounding). A process that dies makes the others fail naming it; rerunning the same command resumes.)";

namespace {

constexpr const char* kRunDescription = R"(The whole study for one model, in one command:
  data build -> eval base -> train (LoRA) -> eval tuned -> compare -> logit lens and PCA for base and
  tuned -> report (STUDY_DIR/report.html, self-contained, and report.md).
Every stage is skipped when its output already exists, so rerunning the same command resumes an
interrupted study; study.json records the settings (a rerun must use the same), each stage's status,
time and command.

Several values for --train-langs, --target, --labels or --shots (e.g. --train-langs zh sw zh,es) make
a grid, run as `qtalign study` runs it (see qtalign study --help).

Without --model, qtalign makes a small demo checkpoint (Qwen2 architecture, Qwen's real tokenizer) in
STUDY_DIR/model and runs the study on it with small limits, in minutes on a laptop (unless given:
--size 96 --eval-limit 16 --analysis-limit 24 --epochs 1 --batch 4 --grad-accum 2 --cutoff 512
--eval-every 0 --lr 5e-3 --dtype fp32). Its numbers are not the study's: real results need a real
checkpoint.)";

void run_whole_study(StudyArguments& arguments, const CLI::App* command) {
  study::StudyOptions& options = arguments.study;
  if (!options.model_dir.empty())
    refuse_options_without_effect(*command, {"--demo-tokenizer", "--demo-examples"},
                                  "they shape the demo model, made only without --model");
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const std::unique_ptr<io::OutputLock> lock = study::hold_study_directory(options.out, *processes.group);
  const study::PlanAxes& axes = arguments.axes;
  const bool grid = axes.mixtures.size() > 1 || axes.targets.size() > 1 || axes.labels.size() > 1 || axes.shots.size() > 1;
  if (grid) {
    refuse_options_without_effect(*command, {"--analysis-limit", "--lens-langs", "--pca-langs", "--pca-layers"},
                                  "a grid (several --train-langs, --target, --labels or --shots) runs no lens or PCA");
    arguments.axes.models = {options.model_dir.empty() ? std::string("demo") : options.model_dir.string()};
    arguments.axes.tasks = {options.task == options.eval_task ? options.task : options.task + ":" + options.eval_task};
    run_study_grid(arguments, command, study::parse_plan_axes(arguments.axes), processes);
    return;
  }
  resolve_study_options(arguments, command, options.model_dir.empty(), processes);
  const study::Plan plan = study::parse_plan_axes(axes);
  options.train_languages = plan.mixtures.front();
  options.target = plan.targets.front();
  options.labels = plan.labels.front();
  options.shots = plan.shots.front();
  study::run_study(options, *processes.group);
}

}  // namespace

void add_shared_study_options(CLI::App* command, StudyArguments& arguments) {
  study::StudyOptions& options = arguments.study;
  command->add_option("--out", options.out, "the study directory (STUDY_DIR)")->required();
  command->add_option("--size", arguments.size,
                      "training examples (default: 10000, or all available outside the evaluation items when fewer; "
                      "demo: 96)");
  command->add_option("--seed", options.seed, "seed of data draws, training, tie breaks, bootstrap")->capture_default_str();
  command->add_option("--eval-langs", options.eval_languages, "languages to evaluate")->capture_default_str();
  command->add_option("--eval-limit", options.eval_limit, "items per task and language (0 = all; demo: 16)")
      ->capture_default_str();
  add_training_options(command, options.training, TrainingOptionNames::study_command);
  add_data_dir_option(command, options.data_dir);
  add_tasks_dir_option(command, options.tasks_dir);
  command->add_option("--demo-tokenizer", options.demo_tokenizer_dir,
                      "directory with the demo's tokenizer.json (default: Qwen's, from tools/npm)");
  command->add_option("--demo-examples", options.demo_examples,
                      "labelled English items per task the demo model is trained on (fewer: a faster, weaker demo)")
      ->capture_default_str()
      ->check(at_least(1));
  command->add_option("--max-configurations", arguments.axes.max_configurations,
                      "the most configurations (adapters to train) a grid may have")
      ->capture_default_str();
  add_runtime_options(command, arguments.runtime);
  add_dist_timeout_option(command, arguments.dist_timeout);
}

void add_evaluation_axes(CLI::App* command, StudyArguments& arguments) {
  command->add_option("--labels", arguments.axes.labels, "answer types: english, same-language, task-agnostic (several: a grid)")
      ->capture_default_str();
  command->add_option("--shots", arguments.axes.shots, "demonstrations per prompt: default (the task's own) or N (several: a grid)")
      ->capture_default_str();
}

void resolve_study_options(StudyArguments& arguments, const CLI::App* command, bool demo,
                           const ProcessRuntime& processes) {
  study::StudyOptions& options = arguments.study;
  if (command->get_option("--size")->count() > 0) options.size = arguments.size;
  if (demo)
    study::apply_demo_settings(options, arguments.runtime.dtype, [command](const std::string& option) {
      const CLI::Option* given = command->get_option_no_throw(option);
      return !given || given->count() > 0;
    });
  options.compute = model::compute_settings(arguments.runtime, processes.device);
}

void run_study_grid(StudyArguments& arguments, const CLI::App* command, study::Plan plan,
                    const ProcessRuntime& processes) {
  const bool demo = std::all_of(plan.models.begin(), plan.models.end(), [](const std::string& m) { return m == "demo"; });
  resolve_study_options(arguments, command, demo, processes);
  study::GridOptions grid;
  grid.common = arguments.study;
  grid.plan = std::move(plan);
  grid.plan_file = arguments.plan_file;
  study::run_grid(grid, *processes.group);
}

void add_run_command(CLI::App& app) {
  auto arguments = std::make_shared<StudyArguments>();
  study::StudyOptions& options = arguments->study;
  CLI::App* command = app.add_subcommand("run", std::string(kRunDescription) + "\n\n" + kStudyProcessesHelp);
  command->add_option("--model", options.model_dir, "Hugging Face checkpoint directory (none: the demo model)");
  command->add_option("--task", options.task, "task whose questions are translated for tuning")->capture_default_str();
  command->add_option("--train-langs", arguments->axes.mixtures, "tuning languages, e.g. zh,de (several mixtures: a grid)")
      ->capture_default_str();
  command->add_option("--target", arguments->axes.targets, "translation target of the tuning questions (several: a grid)")
      ->capture_default_str();
  command->add_option("--eval-task", options.eval_task,
                      "all (the study's three), or one task: emotion, snli, paws or a task file's")
      ->capture_default_str();
  command->add_option("--analysis-limit", options.analysis_limit, "items per language for the lens and PCA (demo: 24)")
      ->capture_default_str();
  command->add_option("--lens-langs", options.lens_languages, "languages for the logit lens (all = all with lens prompts)")
      ->capture_default_str();
  command->add_option("--pca-langs", options.pca_languages, "languages for the representations")->capture_default_str();
  command->add_option("--pca-layers", options.pca_layers, "all, or residual-stream indices such as 0,6,12")
      ->capture_default_str();
  add_evaluation_axes(command, *arguments);
  add_shared_study_options(command, *arguments);
  command->callback([arguments, command] { run_whole_study(*arguments, command); });
}

}  // namespace qtalign::cli
