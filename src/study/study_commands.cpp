#include "study/study_commands.h"

#include <algorithm>
#include <memory>

#include "io/output_lock.h"
#include "model/process_runtime.h"

namespace qtalign::study {
namespace {

// Fills the options a user did not give: the demo's small settings when every model is the demo, the
// device of this process and the dtype.
void resolve_study_options(StudyRequest& request, const io::GivenOption& given, bool demo, at::Device device) {
  if (demo) apply_demo_settings(request.study, request.runtime, given);
  request.study.compute = model::compute_settings(request.runtime, device);
}

// Runs the grid of `plan` with the shared settings of `request` on `processes`.
void run_study_grid(StudyRequest& request, const io::GivenOption& given, Plan plan,
                    const model::ProcessRuntime& processes) {
  const bool demo = std::all_of(plan.models.begin(), plan.models.end(), [](const std::string& m) { return m == "demo"; });
  resolve_study_options(request, given, demo, processes.device);
  GridOptions grid;
  grid.common = request.study;
  grid.plan = std::move(plan);
  grid.plan_file = request.plan_file;
  run_grid(grid, *processes.group);
}

}  // namespace

void run_single_model_study(StudyRequest request, const io::GivenOption& given) {
  StudyOptions& options = request.study;
  if (!options.model_dir.empty())
    io::refuse_options_without_effect(given, {"--demo-tokenizer"}, "it shapes the demo model, made only without --model");
  const model::ProcessRuntime processes = model::join_processes(request.runtime, request.dist_timeout);
  const std::unique_ptr<io::OutputLock> lock = hold_study_directory(options.out, *processes.group);
  if (is_grid(request.axes)) {
    io::refuse_options_without_effect(given, {"--analysis-limit", "--lens-langs", "--pca-langs", "--pca-layers"},
                                  "a grid (several --train-langs, --target, --labels or --shots) runs no lens or PCA");
    run_study_grid(request, given, single_model_plan(options, request.axes), processes);
    return;
  }
  resolve_study_options(request, given, options.model_dir.empty(), processes.device);
  run_study(with_single_configuration(options, parse_plan_axes(request.axes)), *processes.group);
}

void run_planned_grid(StudyRequest request, Plan plan, const io::GivenOption& given) {
  if (std::find(plan.models.begin(), plan.models.end(), "demo") == plan.models.end())
    io::refuse_options_without_effect(given, {"--demo-tokenizer"}, "no model is the demo");
  const model::ProcessRuntime processes = model::join_processes(request.runtime, request.dist_timeout);
  const std::unique_ptr<io::OutputLock> lock = hold_study_directory(request.study.out, *processes.group);
  run_study_grid(request, given, std::move(plan), processes);
}

}  // namespace qtalign::study
