#pragma once
// The representation analysis as a whole: the one entry point `qtalign pca` and the study call,
// taking a typed spec and a loaded model; it pools the prompts over the process group, analyses each
// layer and writes the outputs, and with a compare adapter runs base and tuned
// (analysis/base_tuned.h) and writes their comparison.
#include <filesystem>
#include <optional>
#include <string>

#include "analysis/base_tuned.h"
#include "analysis/representation_spec.h"
#include "analysis/representations.h"
#include "data/protocol.h"
#include "distributed/process_group.h"
#include "model/loaded_model.h"

namespace qtalign::analysis {

// Runs the representation analysis of `loaded` and writes its outputs into
// variant_directory(spec.out, variant); with spec.resume and representations.json already there,
// reads that instead. The forward passes are shared over `group` (run_representations); rank 0
// decides whether to skip, writes the outputs and returns the result, the other ranks return nothing.
std::optional<RepresentationResult> run_representation_variant(distributed::ProcessGroup& group,
                                                               const model::LoadedModel& loaded,
                                                               const data::Protocol& protocol,
                                                               const RepresentationSpec& spec,
                                                               const std::string& variant);

// Rank 0 writes the comparison of spec.out/base and spec.out/tuned (their representations.json) into
// spec.out (write_base_tuned_comparison); the other ranks do nothing.
void compare_representation_variants(distributed::ProcessGroup& group, const RepresentationSpec& spec);

// The entry point: runs the analysis of `loaded` into spec.out, or with spec.compare_adapter base,
// tuned and their comparison. Returns the Markdown table that sums it up (representations.md, or
// pair_correlation_comparison.md).
std::filesystem::path run_representation_analysis(distributed::ProcessGroup& group, model::LoadedModel& loaded,
                                                  const data::Protocol& protocol, const RepresentationSpec& spec);

// The spec with every choice of the study's notebook: emotion, the study prompt, mean pooling, every
// item in file order, the seven languages, scatters of en, de, fr, hi.
void take_study_choices(RepresentationSpec& spec);

// Every option of `qtalign pca`, in its order, with the field of `spec` (const or not) each reads and
// writes; the model and adapter (--model), --langs, --pairs, --layers, --prompt and --as-study are the
// command's own, the shared analysis options (for_each_analysis_option) follow.
template <class Spec, class Visit, io::IfSpec<Spec, RepresentationSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--model", ""), io::CommandOwned{});
  visit(option("--compare-adapter", "a second adapter (e.g. the tuned one): run both and overlay the cosine curves"),
        spec.compare_adapter);
  visit(option("--task", "emotion, snli, paws or a task file's (--langs from its languages)").shown(), spec.task);
  visit(option("--langs", ""), io::CommandOwned{});
  visit(option("--pooling", "mean (over the prompt's tokens) or last"),
        io::parsed(spec.pooling, parse_pooling, pooling_name));
  visit(option("--prompt", ""), io::CommandOwned{});
  visit(option("--resamples", "bootstrap resamples for the cosine intervals").shown(), spec.bootstrap.resamples);
  visit(option("--as-study", ""), io::CommandOwned{});
  for_each_analysis_option(spec, visit);
}

// What `qtalign pca --help` says of the analysis: the pooled vectors, the prompts, the measures, the outputs.
extern const char* const kRepresentationHelp;

}  // namespace qtalign::analysis
