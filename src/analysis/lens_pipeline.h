#pragma once
// The logit lens as a whole: the one entry point `qtalign lens` and the study call, taking a typed
// spec and a loaded model; it plans every language before any forward pass, runs the lens over the
// process group, writes each language's files and the overview, and with a compare adapter runs base
// and tuned (analysis/base_tuned.h) and writes their comparison.
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/base_tuned.h"
#include "analysis/lens_plan.h"
#include "analysis/lens_spec.h"
#include "analysis/logit_lens.h"
#include "data/answer_type.h"
#include "data/protocol.h"
#include "distributed/process_group.h"
#include "model/loaded_model.h"

namespace qtalign::analysis {

// Runs the planned lens of each language into variant_directory(spec.out, variant) (<lang>.json,
// .csv, .png, .svg), keeping a language whose <lang>.json exists when spec.resume, then writes the
// overview of all languages: summary.json, summary.md and overview_latent / overview_native charts.
// `variant` ("base", "tuned" or "") names the model in titles. The forward passes are shared over
// `group` (run_lens_shared); rank 0 reports the dropped items, decides what to skip and writes every
// file, as one process would.
void run_lens_variant(distributed::ProcessGroup& group, const model::LoadedModel& loaded,
                      const data::Protocol& protocol, const std::vector<LensLanguagePlan>& plans,
                      const LensSpec& spec, const std::string& variant);

// Rank 0 writes the comparison of spec.out/base and spec.out/tuned into spec.out/comparison
// (write_lens_comparison); the other ranks do nothing.
void compare_lens_variants(distributed::ProcessGroup& group, const data::Protocol& protocol, const LensSpec& spec);

// The entry point: caps spec.top_k at the vocabulary's size (saying so on stderr), plans (every check
// before a forward pass), then runs the lens of `loaded` into
// spec.out, or with spec.compare_adapter base, tuned and their comparison. Returns the Markdown table
// that sums it up (summary.md, or comparison/comparison.md).
std::filesystem::path run_lens_analysis(distributed::ProcessGroup& group, model::LoadedModel& loaded,
                                        const data::Protocol& protocol, const LensSpec& spec);

// Throws Error for what the spec cannot mean: a confidence level outside (0, 1), fewer than one
// bootstrap resample, a negative top_k.
void check_lens_spec(const LensSpec& spec);

// Every option of `qtalign lens`, in its order, with the field of `spec` (const or not) each reads and
// writes; the model and adapter (--model) and --langs are the command's own, the shared analysis
// options (for_each_analysis_option) follow.
template <class Spec, class Visit, io::IfSpec<Spec, LensSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--model", ""), io::CommandOwned{});
  visit(option("--compare-adapter", "a second adapter (e.g. the tuned one): run base and tuned and compare them"),
        spec.compare_adapter);
  visit(option("--task", "task with lens prompts (emotion)").shown(), spec.task);
  visit(option("--langs", ""), io::CommandOwned{});
  visit(option("--labels", "how the demonstrations answer: same-language (the study's lens) or english"),
        io::parsed(spec.answer_type, data::parse_answer_type, data::answer_type_name));
  visit(option("--thai-forced-prefix", "end Thai prompts with the answers' shared start เชิง and read the remainders "
                                       "(the study's evaluation script); default: the opening quote and the whole "
                                       "words (the study's lens script)"),
        spec.forced_prefix);
  visit(option("--top-k", "top tokens recorded per layer (capped at the vocabulary's size)").shown(), spec.top_k);
  visit(option("--resamples", "bootstrap resamples").shown(), spec.bootstrap.resamples);
  visit(option("--confidence", "confidence level of the intervals").shown(), spec.bootstrap.confidence);
  visit(option("--resume", "keep languages whose <lang>.json is already in --out"), spec.resume);
  for_each_analysis_option(spec, visit);
}

// What `qtalign lens --help` says of the analysis: the prompts, the readings, the outputs.
extern const char* const kLensHelp;

}  // namespace qtalign::analysis
