#include "eval/prompt_split.h"

#include <algorithm>

namespace qtalign::eval {

int64_t PromptSplit::fallbacks() const {
  if (prefix.empty()) return 0;
  return static_cast<int64_t>(std::count(cached.begin(), cached.end(), false));
}

std::vector<int64_t> cacheable_prefix_ids(const tokenizer::Tokenizer& tokenizer, const std::string& prefix_text) {
  std::vector<int64_t> ids = tokenizer.encode(prefix_text, /*add_special_tokens=*/true);
  if (!prefix_text.empty() && !ids.empty()) ids.pop_back();
  return ids;
}

PromptSplit split_prompts(const std::vector<int64_t>& prefix, const std::vector<std::vector<int64_t>>& prompts) {
  PromptSplit split;
  split.prefix = prefix;
  for (const std::vector<int64_t>& prompt : prompts) {
    const bool continues = !prefix.empty() && prompt.size() > prefix.size() &&
                           std::equal(prefix.begin(), prefix.end(), prompt.begin());
    split.cached.push_back(continues);
    split.continuations.emplace_back(continues ? prompt.begin() + static_cast<std::ptrdiff_t>(prefix.size())
                                               : prompt.begin(),
                                     prompt.end());
  }
  return split;
}

}  // namespace qtalign::eval
