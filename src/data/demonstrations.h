#pragma once
// A few-shot block of prompts.json: demonstrations, each ending in an answer line whose last word is
// a quoted label ("Answer: \"entailment\""). Counting those lines gives the block's number of shots.
#include <string>
#include <string_view>
#include <vector>

namespace qtalign::data {

// Byte offsets just past each answer line (before its newline) of a few-shot block: lines that end,
// trailing blanks aside, in one of `labels` in double quotes.
std::vector<size_t> answer_line_ends(std::string_view block, const std::vector<std::string>& labels);

}  // namespace qtalign::data
