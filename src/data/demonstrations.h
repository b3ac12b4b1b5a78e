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

// The number of demonstrations a prompt carries when the task's own is asked for ("default").
constexpr int kTaskShots = -1;

// Parses "default" (kTaskShots) or a count >= 0; throws Error naming `context` (an option or a file).
int parse_shots(const std::string& text, const std::string& context);

// "default" for kTaskShots, else the count.
std::string shots_name(int shots);

}  // namespace qtalign::data
