#pragma once
// The token ids each scoring mode reads for a label word: the prefix-sum candidates of the study's
// rule (prompts.json `scoring`) and the label's token sequence for sequence scoring.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace qtalign::eval {

// The prefix-sum candidates of `label`, sorted and without repeats: every vocabulary entry equal to a
// prefix of the label (whole characters, from the first to the whole word), the same prefixes with the
// SentencePiece word-start marker "▁" in front, the byte-fallback token "<0xXX>" of the label's first
// byte when its first character is not ASCII, and, for byte-level vocabularies, the first token of each
// prefix encoded on its own. Throws Error for an empty label, invalid UTF-8 or no candidate at all.
std::vector<int64_t> prefix_sum_candidates(const tokenizer::Tokenizer& tokenizer, const std::string& label);

// The tokens of `label` followed by the closing quote as they continue a prompt ending with
// `prompt_tail` (the template text after its last field, e.g. "\nAnswer: \""): encode(tail + label +
// "\"") minus encode(tail). Throws Error when the tail's own tokens are not a prefix of that encoding.
std::vector<int64_t> label_sequence_ids(const tokenizer::Tokenizer& tokenizer, std::string_view prompt_tail,
                                        const std::string& label);

}  // namespace qtalign::eval
