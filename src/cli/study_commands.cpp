// qtalign run and qtalign study, the study runner's two commands. `run` is the whole study for one
// model (data, eval, train, eval, compare, lens, PCA, report), resumable; without --model, the demo on
// a small model. `study` is the grid (models x tuning mixtures x targets x tasks x answer types x
// shots) with the study's tables, figures and report; `run` with several values for --train-langs,
// --target, --labels or --shots runs it too. Under qtalign launch or torchrun the runner joins the
// processes once and every stage, in-process eval and train included, runs on that one group.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/output_lock.h"
#include "study/grid.h"
#include "study/plan.h"
#include "study/study.h"

namespace qtalign::cli {
namespace {

struct StudyArguments {
  study::StudyOptions study;
  model::ComputeRequest runtime;
  // Rank 0 works alone on some stages (the demo model, the training set, the report) while the others
  // wait: longer than for eval.
  double dist_timeout = 1800.0;
  // The plan's axes (study: --models, --train-langs, --targets, --tasks, --labels, --shots).
  study::PlanAxes axes;
  std::filesystem::path plan_file;
};

// What `run --help` and `study --help` say of a study on several processes.
constexpr const char* kStudyProcessesHelp = R"(On several processes (qtalign launch -n N -- ..., or torchrun) every stage runs on all of them:
evaluations, trainings (data-parallel; an optimizer step stays --batch x --grad-accum examples, so
--grad-accum must be a multiple of N) and the lens and PCA share their work; rank 0 alone makes the
demo model, the training sets, the comparisons and the reports while the others wait for it, at most
--dist-timeout seconds. The study folder holds the files one process writes (adapters up to float
rounding). A process that dies makes the others fail naming it; rerunning the same command resumes.)";

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
--eval-every 0 --lr 5e-3 --dtype fp32 --threads 1). Its numbers are not the study's: real results
need a real checkpoint.)";

constexpr const char* kStudyDescription = R"(The study's grid in one command: every configuration (model x tuning mixture x target x
tuning task) is LoRA-tuned on question translation in STUDY_DIR/configurations/<id>/ and evaluated
under every evaluation setting of its tuning task (evaluation task x answer type x shots); the base
model is evaluated once per model and setting and shared. Then STUDY_DIR/tables/ holds the study's
tables (one row per configuration, base first; one column per language in the paper's order, in the
high-resource and low-resource blocks, with block, all, seen and unseen means; best per column in
bold; daggers for significant changes: exact McNemar, Holm-corrected) as Markdown, CSV and LaTeX
(booktabs), the agreement with English, tables/significance.json, figures/ (heatmaps of accuracy
change, change by number and kind of tuning languages) and report.html.

Every step resumes: rerun the same command after an interruption; a finished configuration is never
redone. A plan that cannot run fails before any work, naming what is wrong; a configuration that
fails stops the grid with its name.

Tasks: TASK (tune on its questions, evaluate it) or TUNE:EVAL (e.g. snli:emotion, cross-task; EVAL
may be all). Emotion and paws ship no translated training questions: their questions come from half
of the test sets, and the other half is evaluated (for the base model too); snli ships questions for
de, es, it, sw, zh into English.

A plan file (--plan, JSON) holds the same axes and may set shared settings:
  {"models": ["/models/Qwen1.5-1.8B"], "train_languages": ["zh", "sw", "zh,es"], "targets": ["en"],
   "tasks": ["snli"], "labels": ["english"], "shots": ["default"],
   "settings": {"eval_limit": 0, "epochs": 3, "seed": 0}}
Axes given on the command line replace the file's; settings given on the command line win. The plan
is copied into STUDY_DIR/plan.json.

Models "demo" (the default) is a small demo checkpoint made in STUDY_DIR/model: its numbers are not
the study's; real results need a real checkpoint.)";

// Adds the settings every configuration shares (--out, --size, --seed, --eval-langs, --eval-limit,
// training options, --data-dir, --tasks-dir, --demo-tokenizer, runtime options, --dist-timeout) and the plan's
// --max-configurations.
void add_shared_study_options(CLI::App* command, StudyArguments& arguments) {
  study::StudyOptions& options = arguments.study;
  command->add_option("--out", options.out, "the study directory (STUDY_DIR)")->required();
  command->add_option_function<size_t>(
      "--size", [&options](size_t size) { options.size = size; },
      "training examples (default: 10000, or all available outside the evaluation items when fewer; demo: 96)");
  command->add_option("--seed", options.seed, "seed of data draws, training, tie breaks, bootstrap")->capture_default_str();
  command->add_option("--eval-langs", options.eval_languages, "languages to evaluate")->capture_default_str();
  command->add_option("--eval-limit", options.eval_limit, "items per task and language (0 = all; demo: 16)")
      ->capture_default_str();
  add_training_options(command, options.training, TrainingOptionNames::study_command);
  add_data_dir_option(command, options.data_dir);
  add_tasks_dir_option(command, options.tasks_dir);
  command->add_option("--demo-tokenizer", options.demo_tokenizer_dir,
                      "directory with the demo's tokenizer.json (default: Qwen's, from tools/npm)");
  command->add_option("--max-configurations", arguments.axes.max_configurations,
                      "the most configurations (adapters to train) a grid may have")
      ->capture_default_str();
  add_runtime_options(command, arguments.runtime);
  add_dist_timeout_option(command, arguments.dist_timeout);
}

// Adds --labels and --shots (several values each).
void add_evaluation_axes(CLI::App* command, StudyArguments& arguments) {
  command->add_option("--labels", arguments.axes.labels, "answer types: english, same-language, task-agnostic (several: a grid)")
      ->capture_default_str();
  command->add_option("--shots", arguments.axes.shots, "demonstrations per prompt: default (the task's own) or N (several: a grid)")
      ->capture_default_str();
}

// Fills the options a user did not give: the demo's small settings when every model is the demo, the
// device of this process (`processes`, from join_processes) and the dtype.
void resolve_study_options(StudyArguments& arguments, const CLI::App* command, bool demo,
                           const ProcessRuntime& processes) {
  study::StudyOptions& options = arguments.study;
  if (demo)
    study::apply_demo_settings(options, arguments.runtime, [command](const std::string& option) {
      const CLI::Option* given = command->get_option_no_throw(option);
      return !given || given->count() > 0;
    });
  options.compute = model::compute_settings(arguments.runtime, processes.device);
}

// Runs the grid of `plan` with the shared settings of `arguments` on `processes`.
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

void run_whole_study(StudyArguments& arguments, const CLI::App* command) {
  study::StudyOptions& options = arguments.study;
  if (!options.model_dir.empty())
    refuse_options_without_effect(*command, {"--demo-tokenizer"}, "it shapes the demo model, made only without --model");
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const std::unique_ptr<io::OutputLock> lock = study::hold_study_directory(options.out, *processes.group);
  if (study::is_grid(arguments.axes)) {
    refuse_options_without_effect(*command, {"--analysis-limit", "--lens-langs", "--pca-langs", "--pca-layers"},
                                  "a grid (several --train-langs, --target, --labels or --shots) runs no lens or PCA");
    run_study_grid(arguments, command, study::single_model_plan(options, arguments.axes), processes);
    return;
  }
  resolve_study_options(arguments, command, options.model_dir.empty(), processes);
  study::run_study(study::with_single_configuration(options, study::parse_plan_axes(arguments.axes)),
                   *processes.group);
}

// Plan-file settings and the option each stands for.
const std::map<std::string, std::string> kPlanSettings = {
    {"size", "--size"},     {"seed", "--seed"},   {"eval_langs", "--eval-langs"}, {"eval_limit", "--eval-limit"},
    {"epochs", "--epochs"}, {"batch", "--batch"}, {"grad_accum", "--grad-accum"}, {"lr", "--lr"},
    {"cutoff", "--cutoff"}, {"eval_every", "--eval-every"}};

// Applies the plan file's settings the command line did not give.
void apply_plan_settings(const io::Json& settings, const std::filesystem::path& file, CLI::App* command) {
  if (!settings.is_object()) fail_at(file, "\"settings\" must be an object");
  for (const auto& [key, value] : settings.items()) {
    const auto option = kPlanSettings.find(key);
    if (option == kPlanSettings.end()) {
      std::string known;
      for (const auto& [name, unused] : kPlanSettings) known += (known.empty() ? "" : ", ") + name;
      fail_at(file, fmt::format("unknown setting \"{}\" (known: {})", key, known));
    }
    if (command->get_option(option->second)->count() > 0) continue;
    try {
      command->get_option(option->second)->add_result(value.is_string() ? value.get<std::string>() : value.dump());
      command->get_option(option->second)->run_callback();
    } catch (const CLI::Error& e) {
      fail_at(file, fmt::format("setting \"{}\": {}", key, e.what()));
    }
  }
}

void run_planned_study(StudyArguments& arguments, CLI::App* command) {
  study::Plan defaults = study::parse_plan_axes(arguments.axes);
  if (!arguments.plan_file.empty()) {
    const io::Json file = io::read_json_file(arguments.plan_file);
    study::Plan from_file = study::plan_from_json(file, arguments.plan_file, defaults);
    // Axes given on the command line replace the file's.
    const auto given = [&](const char* option) { return command->get_option(option)->count() > 0; };
    if (given("--models")) from_file.models = defaults.models;
    if (given("--train-langs")) from_file.mixtures = defaults.mixtures;
    if (given("--targets")) from_file.targets = defaults.targets;
    if (given("--tasks")) from_file.tasks = defaults.tasks;
    if (given("--labels")) from_file.labels = defaults.labels;
    if (given("--shots")) from_file.shots = defaults.shots;
    if (file.is_object() && file.contains("settings"))
      apply_plan_settings(file["settings"], arguments.plan_file, command);
    defaults = std::move(from_file);
  }
  if (std::find(defaults.models.begin(), defaults.models.end(), "demo") == defaults.models.end())
    refuse_options_without_effect(*command, {"--demo-tokenizer"}, "no model is the demo");
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const std::unique_ptr<io::OutputLock> lock = study::hold_study_directory(arguments.study.out, *processes.group);
  run_study_grid(arguments, command, std::move(defaults), processes);
}

}  // namespace

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

void add_study_command(CLI::App& app) {
  auto arguments = std::make_shared<StudyArguments>();
  arguments->axes.models = {"demo"};
  arguments->axes.tasks = {"snli"};
  CLI::App* command = app.add_subcommand("study", "The study's whole grid of settings, its tables and report");
  command->footer(std::string(kStudyDescription) + "\n\n" + kStudyProcessesHelp);
  command->add_option("--plan", arguments->plan_file, "a JSON plan file (axes and shared settings)")
      ->check(CLI::ExistingFile);
  command->add_option("--models", arguments->axes.models, "checkpoint directories, or demo")->capture_default_str();
  command->add_option("--train-langs", arguments->axes.mixtures, "tuning mixtures, e.g. zh sw zh,es zh,de sw,hi")
      ->capture_default_str();
  command->add_option("--targets", arguments->axes.targets, "translation targets, e.g. en it")->capture_default_str();
  command->add_option("--tasks", arguments->axes.tasks, "TASK or TUNE:EVAL, e.g. snli snli:emotion")->capture_default_str();
  add_evaluation_axes(command, *arguments);
  add_shared_study_options(command, *arguments);
  command->callback([arguments, command] { run_planned_study(*arguments, command); });
}

}  // namespace qtalign::cli
