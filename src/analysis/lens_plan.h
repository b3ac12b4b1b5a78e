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
// order (English among them: as in the study, its two readings coincide and no item is dropped).
std::vector<std::string> lens_languages(const data::Protocol& protocol, const std::string& task);

// The languages a spec names: its own, or every language the lens can read.
std::vector<std::string> lens_spec_languages(const data::Protocol& protocol, const LensSpec& spec);

// The lens token sets of a language: per label, the prefix-sum candidates (eval's scoring rule) of its
// English word and of its whole word in the language (prompts.json lens.native_labels), as the
// study's lens script reads them; with `forced_prefix` (same-language prompts only) the part after
// the language's forced prefix, which the prompt then ends with.
LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                              const std::string& language, data::AnswerType answer_type, bool forced_prefix);

// Why items of a plan were dropped, naming for each label the tokens its English and test-language
// candidates share (e.g. de: "positive/positiv share p, pos, posit"); "" when none was dropped.
std::string lens_drop_reason(const LensLanguagePlan& plan, const tokenizer::Tokenizer& tokenizer);

// Plans the lens of every language of the spec: checks the task, languages, answer words and test
// sets, picks the items (spec.limit), drops the items whose correct answer's English and
// test-language candidates overlap (but in English, which the study's filter exempts), and tokenizes
// the prompts. Throws Error when no language keeps any
// item (before any forward pass).
std::vector<LensLanguagePlan> plan_lens(const tokenizer::Tokenizer& tokenizer, const data::Protocol& protocol,
                                        const LensSpec& spec);

}  // namespace qtalign::analysis
