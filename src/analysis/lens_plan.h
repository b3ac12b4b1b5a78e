#pragma once
// The logit lens's plan: per language the prompts, the label token sets built with the evaluation's
// scoring rule and the overlap filter, all decided before any forward pass.
#include <string>
#include <vector>

#include "analysis/lens_spec.h"
#include "analysis/logit_lens.h"
#include "data/protocol.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

// The languages the lens can read for a task: those with same-language answer words, in prompts.json
// order, without English (whose two readings coincide, so every item would be dropped).
std::vector<std::string> lens_languages(const data::Protocol& protocol, const std::string& task);

// The languages a spec names: its own, or every language the lens can read.
std::vector<std::string> lens_spec_languages(const data::Protocol& protocol, const LensSpec& spec);

// The lens token sets of a language: per label, the prefix-sum candidates (eval's scoring rule) of its
// English word and of its word in the language (prompts.json lens.native_labels; with same-language
// prompts the part after the language's forced prefix, which the prompt already ends with).
LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                              const std::string& language, data::AnswerType answer_type);

// Plans the lens of every language of the spec: checks the task, languages, answer words and test
// sets, picks the items (spec.limit), drops the items whose correct answer's English and
// test-language candidates overlap, and tokenizes the prompts. Throws Error when no language keeps any
// item (before any forward pass).
std::vector<LensLanguagePlan> plan_lens(const tokenizer::Tokenizer& tokenizer, const data::Protocol& protocol,
                                        const LensSpec& spec);

}  // namespace qtalign::analysis
