#pragma once
// The logit-lens stage: per language, the prompts, the label token sets built with the evaluation's
// scoring rule and the overlap filter, all decided before any forward pass; then the lens runs and
// its outputs, an overview of every language, and the base-vs-tuned comparison.
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/logit_lens.h"
#include "data/protocol.h"
#include "distributed/process_group.h"
#include "model/loaded_model.h"

namespace qtalign::study {

// The lens token sets of a language: per label, the prefix-sum candidates (eval's scoring rule) of its
// English word and of its word in the language (prompts.json lens.native_labels; with same-language
// prompts the part after the language's forced prefix, which the prompt already ends with).
analysis::LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                                        const std::string& language, data::AnswerType answer_type);

// Plans the lens of every language: checks the task, languages, answer words and test sets, picks the
// items (options.limit), drops the items whose correct answer's English and test-language candidates
// overlap, and tokenizes the prompts. Throws Error when no language keeps any item (before any
// forward pass).
std::vector<analysis::LensLanguagePlan> plan_lens(const tokenizer::Tokenizer& tokenizer,
                                                  const data::Protocol& protocol,
                                                  const std::vector<std::string>& languages,
                                                  const analysis::LensOptions& options);

// Runs the planned lens of each language into `directory` (<lang>.json, .csv, .png, .svg), skipping a
// language whose <lang>.json exists when skip_existing, then writes the overview of all languages:
// summary.json, summary.md and overview_latent / overview_native charts (.png, .svg). `variant`
// ("base", "tuned" or "") names the model in titles. The forward passes are shared over `group`
// (analysis::run_lens_shared); rank 0 reports the dropped items, decides what to skip and writes every
// file, as one process would.
void run_lens_pipeline(distributed::ProcessGroup& group, const model::LoadedModel& loaded, const data::Protocol& protocol,
                       const std::vector<analysis::LensLanguagePlan>& plans, const analysis::LensOptions& options,
                       const std::filesystem::path& directory, bool skip_existing, const std::string& variant);

// Plans then runs (the two calls above) for `languages`.
void run_lens_pipeline(distributed::ProcessGroup& group, const model::LoadedModel& loaded, const data::Protocol& protocol,
                       const std::vector<std::string>& languages, const analysis::LensOptions& options,
                       const std::filesystem::path& directory, bool skip_existing, const std::string& variant = "");

// From the lens outputs of the base and the tuned model (<lang>.json in each directory), writes into
// `directory` per language <lang>.png/.svg (the four quantities, base dashed and tuned solid) and
// comparison.md / comparison.json (per language: the latent answer's peak and the correct test-language
// answer at the last layer, base vs tuned). Languages without items in either are listed, not drawn.
void write_lens_comparison(const std::filesystem::path& base_directory, const std::filesystem::path& tuned_directory,
                           const std::vector<std::string>& languages, const std::filesystem::path& directory);

}  // namespace qtalign::study
