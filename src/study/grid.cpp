#include "study/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "data/answer_type.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/question_translation_build.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/input_path.h"
#include "io/progress.h"
#include "io/provenance.h"
#include "model/dtype.h"
#include "study/demo_model.h"
#include "study/grid_layout.h"
#include "study/stages.h"
#include "train/training_settings.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

io::Json grid_settings(const GridOptions& options) {
  const StudyOptions& common = options.common;
  io::Json settings = {{"plan", plan_to_json(options.plan)},
                       {"size", common.size ? io::Json(*common.size) : io::Json("default")},
                       {"eval_languages", common.eval_languages},
                       {"eval_limit", common.eval_limit},
                       {"dtype", model::dtype_name(common.compute.dtype)}};
  train::TrainingSettings training = common.training;
  training.seed = common.seed;  // the study's seed is its trainings' seed
  settings.update(train::to_json(training));
  return settings;
}

// Everything that can be checked before any work, so that a grid never fails hours in.
void validate(const GridOptions& options, const data::Protocol& protocol, int world_size) {
  if (options.common.out.empty()) throw Error("study: --out is required");
  grad_accum_per_process(options.common.training.grad_accum, world_size);
  validate_plan(options.plan, protocol);
  for (const std::string& model : options.plan.models)
    if (model != "demo") io::require_file(fs::path(model) / "config.json", "not a Hugging Face checkpoint");
  for (const EvaluationSetting& setting : all_evaluation_settings(options.plan))
    for (const std::string& task : grid_setting_tasks(protocol, setting))
      for (const std::string& language :
           data::parse_task_language_list(protocol.task(task), options.common.eval_languages))
        data::answer_words(protocol.task(task), language, setting.labels);
}

// The grid's options with English added to the evaluated languages: agreement with English compares
// each language's predictions with English ones on the same items.
GridOptions with_english(const GridOptions& options, const data::Protocol& protocol, bool report) {
  GridOptions grid = options;
  std::vector<std::string> languages = data::parse_language_list(protocol, grid.common.eval_languages);
  if (std::find(languages.begin(), languages.end(), "en") == languages.end()) {
    if (report)
      std::fprintf(stderr, "study: evaluating English as well (--eval-langs %s): agreement with English needs it\n",
                   grid.common.eval_languages.c_str());
    grid.common.eval_languages = "en," + grid.common.eval_languages;
  }
  return grid;
}

// Trains and evaluates one configuration (a stage of its own); returns what its done.json holds.
io::Json run_grid_configuration(const GridOptions& grid, const GridPaths& paths, const data::Protocol& protocol,
                                const Configuration& configuration, const std::vector<fs::path>& held_out,
                                distributed::ProcessGroup& group) {
  StudyOptions options = grid.common;
  options.out = paths.configuration(configuration.id);
  options.model_dir = paths.model_dir(configuration.model);
  options.train_languages = fmt::format("{}", fmt::join(configuration.sources, ","));
  options.target = configuration.target;
  options.task = configuration.task;
  options.analyses = false;
  options.held_out_splits = held_out;
  std::vector<EvaluationRun> runs;
  const std::vector<std::string> seen = data::seen_languages(configuration.sources, configuration.target);
  for (const EvaluationSetting& setting : evaluation_settings(grid.plan, configuration.task))
    runs.push_back({setting.task, setting.labels, setting.shots, seen, grid_split_files(paths, protocol, grid.plan, setting),
                    paths.tuned_results(configuration.id, setting)});
  try {
    run_configuration(options, options.model_dir, runs, group);
  } catch (const Error& e) {
    throw Error(fmt::format("configuration {} ({} on {} questions) failed: {}", configuration.id, configuration.label,
                            configuration.task, e.what()));
  }
  io::Json summary = {{"id", configuration.id}, {"finished", io::utc_timestamp()}};
  if (group.is_main()) io::write_json_file(paths.configuration(configuration.id) / "done.json", summary);
  return summary;
}

// Rank 0's last stage: the tables, figures and report, and the summary printed.
void finish_grid(StudyRecord& record, const GridPaths& paths, int total, Clock::time_point start) {
  std::fprintf(stderr, "\n[%d/%d] tables, figures and report\n", total, total);
  record.set("finished", io::utc_timestamp());
  record.set("wall_seconds_last_run", std::chrono::duration<double>(Clock::now() - start).count());
  write_grid_outputs(paths.root);
  std::fprintf(stderr, "%s", io::read_file(paths.root / "tables" / "summary.md").c_str());
  std::fprintf(stderr, "\nstudy complete: %s (and report.md, tables/), %s\n", (paths.root / "report.html").c_str(),
               io::format_duration(std::chrono::duration<double>(Clock::now() - start).count()).c_str());
}

}  // namespace

void run_grid(const GridOptions& options, distributed::ProcessGroup& group) {
  const auto start = Clock::now();
  const bool report = group.is_main();
  const data::Protocol protocol =
      data::load_protocol(data::resolve_data_dir(options.common.data_dir), options.common.tasks_dir);
  const GridOptions grid = with_english(options, protocol, report);
  validate(grid, protocol, group.world_size());
  const GridPaths paths(grid.common.out);
  const std::vector<Configuration> configurations = plan_configurations(grid.plan, protocol);
  const std::vector<EvaluationSetting> settings = all_evaluation_settings(grid.plan);
  const bool demo = std::find(grid.plan.models.begin(), grid.plan.models.end(), "demo") != grid.plan.models.end();
  if (report) std::fprintf(stderr, "study: %s\n", plan_summary(grid.plan, protocol).c_str());

  StudyRecord record(paths.record, grid_settings(grid), group);
  record.set("kind", "grid");
  record.set("demo", demo);
  if (demo) record.set("demo_model", demo_model_description());  // what the report says of it
  record.set("data", data_record(protocol));
  record.set("question_sources", question_source_note(protocol, grid.plan));
  record.set("processes", group.world_size());
  if (report) {
    if (!grid.plan_file.empty()) io::write_file_atomically(paths.plan, io::read_file(grid.plan_file));
    else io::write_json_file(paths.plan, plan_to_json(grid.plan));
  }

  const std::vector<std::string> split_tasks = grid_split_tasks(protocol, grid.plan);
  const int total = (demo ? 1 : 0) + static_cast<int>(split_tasks.size() + settings.size() * grid.plan.models.size() +
                                                      configurations.size()) + 1;
  StageRunner stages(record, total, group);
  if (demo) demo_model_stage(stages, grid.common, paths.model);
  for (const std::string& task : split_tasks)
    stages.run_on_main("evaluation split: " + task, paths.split(task), [&] {
      const data::EvaluationSplit split =
          data::split_test_set(task, data::read_test_set(protocol, task, "en"), kGridEvalFraction, grid.common.seed);
      data::write_evaluation_split(paths.split(task), split);
      return io::Json{{"evaluation_items", split.evaluation_indices.size()},
                      {"question_items", split.training_indices.size()}};
    });
  for (const std::string& model : grid.plan.models)
    for (const EvaluationSetting& setting : settings) {
      EvaluationRun run{setting.task, setting.labels, setting.shots, {},
                        grid_split_files(paths, protocol, grid.plan, setting), paths.base_results(model, setting)};
      stages.run_shared(fmt::format("eval: base {} ({})", model_id(model), setting.id), run.results, [&] {
        return evaluate_model(group, grid.common, paths.model_dir(model), {}, run);
      });
    }
  std::vector<fs::path> held_out;
  for (const std::string& task : split_tasks) held_out.push_back(paths.split(task));
  for (const Configuration& configuration : configurations) {
    const fs::path done = paths.configuration(configuration.id) / "done.json";
    const std::string name =
        fmt::format("configuration {}: {} on {} questions", configuration.id, configuration.label, configuration.task);
    stages.run_shared(name, done,
                      [&] { return run_grid_configuration(grid, paths, protocol, configuration, held_out, group); });
  }
  // The tables and report are rank 0's; the others wait, so that none ends with success before the grid does.
  if (report) finish_grid(record, paths, total, start);
  group.barrier();
}

Plan single_model_plan(const StudyOptions& options, PlanAxes axes) {
  axes.models = {options.model_dir.empty() ? std::string("demo") : options.model_dir.string()};
  axes.tasks = {options.task == options.eval_task ? options.task : options.task + ":" + options.eval_task};
  return parse_plan_axes(axes);
}

StudyOptions with_single_configuration(StudyOptions options, const Plan& plan) {
  options.train_languages = plan.mixtures.front();
  options.target = plan.targets.front();
  options.labels = plan.labels.front();
  options.shots = plan.shots.front();
  return options;
}

const char* const kGridHelp = R"(The study's grid in one command: every configuration (model x tuning mixture x target x
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

}  // namespace qtalign::study
