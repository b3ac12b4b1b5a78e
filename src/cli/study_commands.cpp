// qtalign run and qtalign study, the study runner's two commands. `run` is the whole study for one
// model (data, eval, train, eval, compare, lens, PCA, report), resumable; without --model, the demo on
// a small model. `study` is the grid (models x tuning mixtures x targets x tasks x answer types x
// shots) with the study's tables, figures and report; `run` with several values for --train-langs,
// --target, --labels or --shots runs it too. Under qtalign launch or torchrun the runner joins the
// processes once and every stage, in-process eval and train included, runs on that one group.
#include <fmt/format.h>

#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "io/json_file.h"
#include "study/plan.h"
#include "study/study_commands.h"

namespace qtalign::cli {
namespace {

// The commands' own options in the shared list (study::for_each_shared_option).
OwnOptions own_study_options(CLI::App* command, study::StudyRequest& arguments) {
  study::StudyOptions& options = arguments.study;
  return {{"--size",
           [command, &options] {
             command->add_option_function<size_t>(
                 "--size", [&options](size_t size) { options.size = size; },
                 "training examples (default: 10000, or all available outside the evaluation items when fewer; demo: 96)");
           }},
          {"--threads", [command, &arguments] { add_runtime_options(command, arguments.runtime); }},
          {"--dist-timeout", [command, &arguments] { add_dist_timeout_option(command, arguments.dist_timeout); }}};
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

void run_planned_study(study::StudyRequest& arguments, CLI::App* command) {
  study::Plan plan = study::parse_plan_axes(arguments.axes);
  if (!arguments.plan_file.empty()) {
    const io::Json file = io::read_json_file(arguments.plan_file);
    study::Plan from_file = study::plan_from_json(file, arguments.plan_file, plan);
    // Axes given on the command line replace the file's.
    const auto given = [&](const char* option) { return command->get_option(option)->count() > 0; };
    if (given("--models")) from_file.models = plan.models;
    if (given("--train-langs")) from_file.mixtures = plan.mixtures;
    if (given("--targets")) from_file.targets = plan.targets;
    if (given("--tasks")) from_file.tasks = plan.tasks;
    if (given("--labels")) from_file.labels = plan.labels;
    if (given("--shots")) from_file.shots = plan.shots;
    if (file.is_object() && file.contains("settings"))
      apply_plan_settings(file["settings"], arguments.plan_file, command);
    plan = std::move(from_file);
  }
  study::run_planned_grid(arguments, std::move(plan), given_on(command));
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto arguments = std::make_shared<study::StudyRequest>();
  CLI::App* command = app.add_subcommand("run", std::string(study::kRunHelp) + "\n\n" + study::kStudyProcessesHelp);
  add_option_list(
      command, [&](auto&& visit) { study::for_each_run_option(arguments->study, arguments->axes, visit); },
      own_study_options(command, *arguments));
  command->callback([arguments, command] { study::run_single_model_study(*arguments, given_on(command)); });
}

void add_study_command(CLI::App& app) {
  auto arguments = std::make_shared<study::StudyRequest>();
  arguments->axes.models = {"demo"};
  arguments->axes.tasks = {"snli"};
  CLI::App* command = app.add_subcommand("study", "The study's whole grid of settings, its tables and report");
  command->footer(std::string(study::kGridHelp) + "\n\n" + study::kStudyProcessesHelp);
  add_option_list(
      command,
      [&](auto&& visit) {
        study::for_each_grid_option(arguments->study, arguments->axes, arguments->plan_file, visit);
      },
      own_study_options(command, *arguments));
  command->callback([arguments, command] { run_planned_study(*arguments, command); });
}

}  // namespace qtalign::cli
