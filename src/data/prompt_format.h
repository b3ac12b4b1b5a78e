#pragma once
// Prompts and questions assembled from prompts.json templates, byte for byte as the study does.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/protocol.h"
#include "data/task_items.h"

namespace qtalign::data {

// Which few-shot block precedes the item.
enum class Demonstrations {
  english_labels,  // the task's demonstrations (answers as English labels): the evaluation prompt
  native_labels,   // the lens demonstrations (answers in the language): the logit-lens prompt
};

// The {name} placeholders of a template, in order of appearance (repeats kept); throws Error
// naming `context` for an unclosed brace or an empty name.
std::vector<std::string> template_placeholders(std::string_view template_text, const std::string& context);

// Replaces each {name} by values.at(name) in one pass (values are not re-scanned); throws Error
// naming `context` and the placeholder when a name has no value.
std::string render_template(std::string_view template_text, const std::map<std::string, std::string>& values,
                            const std::string& context);

// The few-shot prompt for an item: demonstrations + the item in the language's template, ending
// right after the opening quote of the answer.
std::string evaluation_prompt(const TaskProtocol& task, const std::string& language, const TaskItem& item,
                              Demonstrations demonstrations = Demonstrations::english_labels);

// The part of every evaluation prompt of (task, language) before the first item field, i.e. the
// shared prefix evaluation_prompt(...) always starts with (for KV-cache reuse).
std::string shared_prompt_prefix(const TaskProtocol& task, const std::string& language,
                                 Demonstrations demonstrations = Demonstrations::english_labels);

// The question of an item: the language's template without "{demonstrations}\n", rendered (still
// ending with the opening quote, no answer), as question translation uses it.
std::string question_text(const TaskProtocol& task, const std::string& language, const TaskItem& item);

}  // namespace qtalign::data
