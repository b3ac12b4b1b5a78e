#pragma once
// What `qtalign run` and `qtalign study` do once their options are read, as two library calls: the
// options that would have no effect refused, the processes joined, the study directory held, the
// demo's settings and the compute settings resolved, then the study or its grid run.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/options.h"
#include "model/compute_settings.h"
#include "study/grid.h"
#include "study/plan.h"
#include "study/study.h"

namespace qtalign::study {

// Everything `run` or `study` is asked for: the shared settings, the runtime as the options word it,
// the processes' timeout, the plan's axes and the plan file.
struct StudyRequest {
  StudyOptions study;
  model::ComputeRequest runtime;
  // Rank 0 works alone on some stages (the demo model, the training set, the report) while the others
  // wait: longer than for eval.
  double dist_timeout = 1800.0;
  PlanAxes axes;
  std::filesystem::path plan_file;
};

// `qtalign run`: the whole study for one model (the demo without one), or its grid when the axes have
// several values; refuses the demo's options with a model and the analyses' options in a grid.
void run_single_model_study(StudyRequest request, const io::GivenOption& given);

// `qtalign study`: the grid of `plan` (the axes and the plan file already merged); refuses the
// demo's options when no model is the demo.
void run_planned_grid(StudyRequest request, Plan plan, const io::GivenOption& given);

}  // namespace qtalign::study
