#include "data/prompt_format.h"

#include "io/error.h"

namespace qtalign::data {
namespace {

constexpr std::string_view kDemonstrationsLine = "{demonstrations}\n";

// Calls on_text for literal runs and on_placeholder for each {name}, in order.
template <typename OnText, typename OnPlaceholder>
void scan_template(std::string_view text, const std::string& context, OnText on_text, OnPlaceholder on_placeholder) {
  size_t position = 0;
  while (position < text.size()) {
    const size_t open = text.find('{', position);
    const size_t stray_close = text.find('}', position);
    if (stray_close < open) throw Error(context + ": template has a '}' without '{'");
    if (open == std::string_view::npos) {
      on_text(text.substr(position));
      return;
    }
    on_text(text.substr(position, open - position));
    const size_t close = text.find('}', open + 1);
    const size_t nested = text.find('{', open + 1);
    if (close == std::string_view::npos || nested < close)
      throw Error(context + ": template has an unclosed '{' at byte " + std::to_string(open));
    if (close == open + 1) throw Error(context + ": template has an empty placeholder '{}'");
    on_placeholder(std::string(text.substr(open + 1, close - open - 1)));
    position = close + 1;
  }
}

std::string item_context(const TaskProtocol& task, const std::string& language, const TaskItem& item) {
  return task.name + "/" + language + " item " + std::to_string(item.index);
}

}  // namespace

std::vector<std::string> template_placeholders(std::string_view template_text, const std::string& context) {
  std::vector<std::string> names;
  scan_template(template_text, context, [](std::string_view) {}, [&](std::string name) { names.push_back(std::move(name)); });
  return names;
}

std::string render_template(std::string_view template_text, const std::map<std::string, std::string>& values,
                            const std::string& context) {
  std::string rendered;
  rendered.reserve(template_text.size());
  scan_template(
      template_text, context, [&](std::string_view literal) { rendered += literal; },
      [&](const std::string& name) {
        const auto found = values.find(name);
        if (found == values.end()) throw Error(context + ": no value for the placeholder {" + name + "}");
        rendered += found->second;
      });
  return rendered;
}

std::string evaluation_prompt(const TaskProtocol& task, const std::string& language, const TaskItem& item,
                              AnswerType answer_type) {
  std::map<std::string, std::string> values = item.fields;
  values["demonstrations"] = answer_words(task, language, answer_type).demonstrations;
  return render_template(task.language(language).template_text, values, item_context(task, language, item));
}

std::string shared_prompt_prefix(const TaskProtocol& task, const std::string& language,
                                 AnswerType answer_type) {
  const std::string& template_text = task.language(language).template_text;
  const std::string first_field = "{" + task.fields.front() + "}";
  const size_t end = template_text.find(first_field);
  return render_template(std::string_view(template_text).substr(0, end),
                         {{"demonstrations", answer_words(task, language, answer_type).demonstrations}},
                         task.name + "/" + language + " template");
}

std::string question_text(const TaskProtocol& task, const std::string& language, const TaskItem& item) {
  std::string_view template_text = task.language(language).template_text;
  if (template_text.substr(0, kDemonstrationsLine.size()) != kDemonstrationsLine)
    throw Error(task.name + "/" + language + " template: does not start with \"{demonstrations}\\n\"");
  template_text.remove_prefix(kDemonstrationsLine.size());
  return render_template(template_text, item.fields, item_context(task, language, item));
}

}  // namespace qtalign::data
