// qtalign study: the study's grid with one command (models x tuning mixtures x targets x tasks x
// answer types x shots), resumable, with the study's tables, figures and report.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/study_arguments.h"
#include "io/error.h"
#include "io/json_file.h"
#include "study/plan.h"

namespace qtalign::cli {
namespace {

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

// Plan-file settings and the option each stands for.
const std::map<std::string, std::string> kPlanSettings = {
    {"size", "--size"},     {"seed", "--seed"},   {"eval_langs", "--eval-langs"}, {"eval_limit", "--eval-limit"},
    {"epochs", "--epochs"}, {"batch", "--batch"}, {"grad_accum", "--grad-accum"}, {"lr", "--lr"},
    {"cutoff", "--cutoff"}, {"eval_every", "--eval-every"}};

// Applies the plan file's settings the command line did not give.
void apply_plan_settings(const io::Json& settings, const std::filesystem::path& file, StudyArguments& arguments,
                         CLI::App* command) {
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
      apply_plan_settings(file["settings"], arguments.plan_file, arguments, command);
    defaults = std::move(from_file);
  }
  if (std::find(defaults.models.begin(), defaults.models.end(), "demo") == defaults.models.end())
    refuse_options_without_effect(*command, {"--demo-tokenizer", "--demo-examples"}, "no model is the demo");
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const std::unique_ptr<io::OutputLock> lock = study::hold_study_directory(arguments.study.out, *processes.group);
  run_study_grid(arguments, command, std::move(defaults), processes);
}

}  // namespace

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
