#pragma once
// The study's two blocks of languages (its tables' column groups): the ten high-resource languages
// and the other ten. Every table and average that shows blocks uses this one definition.
#include <string>
#include <vector>

namespace qtalign::data {

struct LanguageGroup {
  std::string name;                    // "high-resource" | "low-resource"
  std::vector<std::string> languages;  // in the study's column order
};

// The blocks in table order: high-resource (en zh de fr es it nl ja ru sv), then low-resource
// (sl pl bg no ms is hi th sw bn).
const std::vector<LanguageGroup>& study_language_groups();

// The name of the block holding `language`; throws Error for a language in neither block.
const std::string& language_group_of(const std::string& language);

// Whether `language` is in the high-resource block; throws Error for a language in neither block.
bool is_high_resource(const std::string& language);

}  // namespace qtalign::data
