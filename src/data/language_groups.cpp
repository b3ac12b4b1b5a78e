#include "data/language_groups.h"

#include <algorithm>

#include "io/error.h"

namespace qtalign::data {

const std::vector<LanguageGroup>& study_language_groups() {
  static const std::vector<LanguageGroup> groups = {
      {"high-resource", {"en", "zh", "de", "fr", "es", "it", "nl", "ja", "ru", "sv"}},
      {"low-resource", {"sl", "pl", "bg", "no", "ms", "is", "hi", "th", "sw", "bn"}},
  };
  return groups;
}

const std::string& language_group_of(const std::string& language) {
  for (const LanguageGroup& group : study_language_groups())
    if (std::find(group.languages.begin(), group.languages.end(), language) != group.languages.end())
      return group.name;
  throw Error("language '" + language + "' is in neither of the study's language groups (high-resource, low-resource)");
}

bool is_high_resource(const std::string& language) {
  return language_group_of(language) == study_language_groups().front().name;
}

}  // namespace qtalign::data
