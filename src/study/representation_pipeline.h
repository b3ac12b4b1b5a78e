#pragma once
// The representation (PCA / cross-lingual similarity) stage for one model, and its base-vs-tuned
// comparison.
#include <filesystem>
#include <optional>

#include "analysis/representations.h"
#include "data/protocol.h"
#include "distributed/process_group.h"
#include "model/loaded_model.h"

namespace qtalign::study {

// Runs the representation analysis of `loaded` and writes its outputs into `directory`; with
// skip_existing and a directory/representations.json already there, reads that instead. The forward
// passes are shared over `group` (analysis::run_representations); rank 0 decides whether to skip,
// writes the outputs and returns the result, the other ranks return nothing.
std::optional<analysis::RepresentationResult> run_representation_pipeline(
    distributed::ProcessGroup& group, const model::LoadedModel& loaded, const data::Protocol& protocol,
    const analysis::RepresentationOptions& options, const std::filesystem::path& directory, bool skip_existing);

}  // namespace qtalign::study
