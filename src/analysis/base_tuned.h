#pragma once
// Base versus tuned: an analysis run for the model as loaded (the base), again with the tuned adapter
// attached, then the two compared. One loaded model serves both, and the adapter is swapped once for
// any number of analyses (the study runs the lens and the representations in one pass).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/data_dir.h"
#include "io/options.h"
#include "model/loaded_model.h"

namespace qtalign::analysis {

// One analysis of the base-vs-tuned flow.
struct VariantAnalysis {
  std::function<void(const std::string& variant)> run;  // "base" or "tuned": writes that variant's outputs
  std::function<void()> compare;                         // on every rank, once both variants are written
};

// Where an analysis writing into `out` puts a variant: out/<variant>, or out itself for a single
// model (variant "").
std::filesystem::path variant_directory(const std::filesystem::path& out, const std::string& variant);

// Runs every analysis for the base model, attaches `tuned_adapter` to `loaded`, runs every analysis
// again for the tuned model, then compares each. `loaded` may be null when the caller knows every
// run is already done (a resumed study loads no model); then nothing is attached.
void run_base_and_tuned(model::LoadedModel* loaded, const std::filesystem::path& tuned_adapter,
                        const std::vector<VariantAnalysis>& analyses);

// What an analysis into `out` needs that no model does, checked so that a mistake fails before
// minutes of loading: a batch size of at least 1, a compare adapter (when given) with its
// adapter_config.json, and an output directory that can be created and written; throws Error.
void check_analysis_run(int64_t batch_size, const std::filesystem::path& compare_adapter,
                        const std::filesystem::path& out);

// The options `lens` and `pca` share after their own, in their order, with the field of `spec` (a
// LensSpec or a RepresentationSpec) each reads and writes; --limit (with --first), --eval-split, the
// data (--data-dir, --tasks-dir) and the processes (--dist-timeout, the runtime options) are the
// commands' own.
template <class Spec, class Visit>
void for_each_analysis_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--limit", ""), io::CommandOwned{});
  visit(option("--eval-split", ""), io::CommandOwned{});
  visit(option("--seed", "seed of the item sample and the bootstrap").shown(), spec.bootstrap.seed);
  visit(option("--batch-size", "prompts per forward pass").shown(), spec.batch_size);
  visit(option("--out", "output directory").mandatory(), spec.out);
  visit(option("--data-dir", ""), io::CommandOwned{});
  visit(option("--dist-timeout", ""), io::CommandOwned{});
}

}  // namespace qtalign::analysis
