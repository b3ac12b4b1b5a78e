#pragma once
// The representation (PCA / cross-lingual similarity) stage for one model, and its base-vs-tuned
// comparison.
#include <filesystem>

#include "analysis/representations.h"
#include "data/protocol.h"
#include "study/loaded_model.h"

namespace qtalign::study {

// Runs the representation analysis of `loaded` and writes its outputs into `directory`; with
// skip_existing and a directory/representations.json already there, reads that instead.
analysis::RepresentationResult run_representation_pipeline(const LoadedModel& loaded, const data::Protocol& protocol,
                                                           const analysis::RepresentationOptions& options,
                                                           const std::filesystem::path& directory, bool skip_existing);

}  // namespace qtalign::study
