#pragma once
// Prompts and questions assembled from prompts.json templates, byte for byte as the study does.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/answer_type.h"
#include "data/protocol.h"
#include "data/task_items.h"

namespace qtalign::data {

// The {name} placeholders of a template, in order of appearance (repeats kept); throws Error
// naming `context` for an unclosed brace or an empty name.
std::vector<std::string> template_placeholders(std::string_view template_text, const std::string& context);

// Replaces each {name} by values.at(name) in one pass (values are not re-scanned); throws Error
// naming `context` and the placeholder when a name has no value.
std::string render_template(std::string_view template_text, const std::map<std::string, std::string>& values,
                            const std::string& context);

// The few-shot prompt for an item: the demonstrations of the answer type + the item in the language's
// template, ending right after the opening quote of the answer. A forced prefix (answer_words) is not
// part of the text: scoring appends its tokens. Throws Error when the answer type has no data here.
std::string evaluation_prompt(const TaskProtocol& task, const std::string& language, const TaskItem& item,
                              AnswerType answer_type = AnswerType::english);

// The part of every evaluation prompt of (task, language) before the first item field, i.e. the
// shared prefix evaluation_prompt(...) always starts with (for KV-cache reuse).
std::string shared_prompt_prefix(const TaskProtocol& task, const std::string& language,
                                 AnswerType answer_type = AnswerType::english);

// The question of an item: the language's template without "{demonstrations}\n", rendered (still
// ending with the opening quote, no answer), as question translation uses it.
std::string question_text(const TaskProtocol& task, const std::string& language, const TaskItem& item);

}  // namespace qtalign::data
