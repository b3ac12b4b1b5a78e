#pragma once
// The logit-lens stage: per language, the label token sets built with the evaluation's scoring rule,
// the lens run and its outputs, then an overview of every language.
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/logit_lens.h"
#include "data/protocol.h"
#include "study/loaded_model.h"

namespace qtalign::study {

// The lens token sets of a language: the prefix-sum candidates (eval's scoring rule) of every English
// label of the task, and of every native label word of the language (prompts.json lens.native_labels).
analysis::LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                                        const std::string& language);

// Runs the lens for each language into `directory` (<lang>.json, .csv, .png, .svg), skipping a language
// whose <lang>.json exists when skip_existing, then writes the overview of all languages:
// summary.json, summary.md and overview_english / overview_native charts (.png, .svg).
void run_lens_pipeline(const LoadedModel& loaded, const data::Protocol& protocol,
                       const std::vector<std::string>& languages, const analysis::LensOptions& options,
                       const std::filesystem::path& directory, bool skip_existing);

}  // namespace qtalign::study
