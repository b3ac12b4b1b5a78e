#include "data/task_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "data/prompt_format.h"
#include "data/task_file.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::data {

TaskCheck check_task_file(const std::filesystem::path& file, const tokenizer::Tokenizer* tokenizer) {
  TaskCheck check{read_task_file(file), {}};
  const TaskProtocol& task = check.task;
  for (const std::string& code : task.language_order) {
    const LanguageProtocol& language = task.language(code);
    LanguageCheck summary;
    summary.code = code;
    summary.name = task.language_names.at(code);
    summary.items_file = language.file;
    const std::vector<TaskItem> items = read_task_items(language.file, task, code);
    if (language.count > 0 && static_cast<int64_t>(items.size()) != language.count)
      fail_at(language.file, fmt::format("language {}: {} items, but the task file's count says {}", code,
                                         items.size(), language.count));
    summary.items = items.size();
    for (const std::string& label : task.labels) summary.label_counts[label] = 0;
    for (const TaskItem& item : items) ++summary.label_counts[item.label];
    summary.first_prompt = evaluation_prompt(task, code, items.front());
    if (tokenizer) {
      TokenCounts counts{SIZE_MAX, 0, 0};
      for (const TaskItem& item : items) {
        const size_t n = tokenizer->encode(evaluation_prompt(task, code, item)).size();
        counts.min = std::min(counts.min, n);
        counts.max = std::max(counts.max, n);
        counts.mean += static_cast<double>(n) / static_cast<double>(items.size());
      }
      summary.prompt_tokens = counts;
    }
    check.languages.push_back(std::move(summary));
  }
  return check;
}

std::string format_task_check(const TaskCheck& check) {
  const TaskProtocol& task = check.task;
  std::string text = fmt::format("task {} ({}): valid\n", task.name, task.source.string());
  text += fmt::format("labels: {}{}; {} shots; fields: {}\n", fmt::join(task.labels, ", "),
                      task.options.empty() ? ""
                      : fmt::format(" (multiple choice over {}, scored by {})", fmt::join(task.options, ", "),
                                    task.option_scoring == OptionScoring::option_text ? "each option's text" : "letter"),
                      task.shots, fmt::join(task.fields, ", "));
  text += fmt::format("{} languages: {}\n", task.language_order.size(), fmt::join(task.language_order, " "));
  for (const LanguageCheck& language : check.languages) {
    std::vector<std::string> balance;
    for (const std::string& label : task.labels) balance.push_back(fmt::format("{} {}", label, language.label_counts.at(label)));
    text += fmt::format("  {} ({}): {} items ({}) from {}", language.code, language.name, language.items,
                        fmt::join(balance, ", "), language.items_file.string());
    if (language.prompt_tokens)
      text += fmt::format("; prompt tokens min {} mean {:.1f} max {}", language.prompt_tokens->min,
                          language.prompt_tokens->mean, language.prompt_tokens->max);
    text += "\n";
  }
  for (const LanguageCheck& language : check.languages)
    text += fmt::format("\n--- {} item 0 prompt ---\n{}\n", language.code, language.first_prompt);
  return text;
}

std::string new_task_file(const std::filesystem::path& jsonl, const std::string& answer_field,
                          const std::string& language) {
  const std::vector<io::Json> records = io::read_json_records(jsonl);
  if (records.empty()) fail_at(jsonl, "no records to take the fields from");
  std::vector<std::string> fields, labels;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].is_object()) fail_at(jsonl, fmt::format("record {}: expected a JSON object", i));
    const auto answer = records[i].find(answer_field);
    if (answer == records[i].end())
      fail_at(jsonl, fmt::format("record {}: missing the answer field '{}' (--answer)", i, answer_field));
    const std::string value = answer->is_string() ? answer->get<std::string>() : answer->dump();
    if (std::find(labels.begin(), labels.end(), value) == labels.end()) labels.push_back(value);
  }
  for (const auto& [key, value] : records.front().items())
    if (key != answer_field && value.is_string()) fields.push_back(key);
  if (fields.empty()) fail_at(jsonl, "record 0 has no string field besides the answer to show in a prompt");
  std::string template_text = "{demonstrations}";
  io::Json words = io::Json::object();
  for (const std::string& field : fields) {
    template_text += "\n{" + field + "_name}: {" + field + "}";
    words[field + "_name"] = field;
  }
  template_text += "\n{answer_name}: \"";
  words["answer_name"] = "Answer";
  const std::string name = jsonl.stem().string();
  return fmt::format(
      "// A qtalign task file written by `qtalign task new` from {file}. Edit it, then run\n"
      "// `qtalign task check` on it; README.md (\"Your own tasks\") describes every key.\n"
      "{{\n"
      "  // What --task calls the task.\n"
      "  \"name\": {name},\n"
      "  // The answers scored after the prompt's opening quote: the distinct values of '{answer}'. For\n"
      "  // multiple choice give \"options\" (the fields holding the options) and labels A, B, C, ... follow;\n"
      "  // \"scoring\": \"option_text\" then scores each option's own text instead of its letter.\n"
      "  \"labels\": {labels},\n"
      "  // Demonstrations per prompt (balanced over the labels when drawn from a dev file).\n"
      "  \"shots\": {shots},\n"
      "  // One template for every language: {{demonstrations}} first, then the item's fields; a\n"
      "  // placeholder a language's \"words\" names is that word, so only the words are translated.\n"
      "  // The prompt ends right after the opening quote of the answer.\n"
      "  \"template\": {template},\n"
      "  // Where the items are and which field holds the answer; \"fields\" maps a template field to\n"
      "  // another name in the file, \"answer_map\" answers to labels (default: each label itself).\n"
      "  \"items\": {items},\n"
      "  // The seed of the demonstrations drawn from dev files.\n"
      "  \"demonstrations\": {{\"seed\": 0}},\n"
      "  // The languages in table order; add one entry per language (any code, a display name for\n"
      "  // the translation instruction). \"demonstrations\" is the written-out block or a dev file to\n"
      "  // draw from: point it at items kept out of the test set.\n"
      "  \"languages\": [\n"
      "    {{\"code\": {code}, \"name\": \"English\", \"items\": {file_name}, \"words\": {words},\n"
      "     \"demonstrations\": {{\"dev\": {file_name}}}}}\n"
      "  ]\n"
      "}}\n",
      fmt::arg("file", jsonl.filename().string()), fmt::arg("name", io::Json(name).dump()),
      fmt::arg("answer", answer_field), fmt::arg("labels", io::Json(labels).dump()),
      fmt::arg("shots", std::min<size_t>(labels.size() * 2, 8)), fmt::arg("template", io::Json(template_text).dump()),
      fmt::arg("items", io::Json({{"answer", answer_field}}).dump()), fmt::arg("code", io::Json(language).dump()),
      fmt::arg("file_name", io::Json(jsonl.filename().string()).dump()), fmt::arg("words", words.dump()));
}

std::string check_task(const TaskCheckSpec& spec) {
  std::optional<tokenizer::Tokenizer> tokenizer;
  if (!spec.tokenizer.empty())
    tokenizer.emplace(tokenizer::Tokenizer::from_file(tokenizer::tokenizer_json_file(spec.tokenizer)));
  return format_task_check(check_task_file(spec.file, tokenizer ? &*tokenizer : nullptr));
}

void write_new_task(const NewTaskSpec& spec) {
  if (std::filesystem::exists(spec.out)) fail_at(spec.out, "exists already; task new does not overwrite");
  io::write_file_atomically(spec.out, new_task_file(spec.items, spec.answer, spec.language));
}

void export_study_task(const TaskExportSpec& spec) {
  const Protocol protocol = load_protocol(resolve_data_dir(spec.data_dir));
  io::write_json_file(spec.out, study_task_file(protocol, spec.task));
}

}  // namespace qtalign::data
