#include "data/task_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>

#include "data/prompt_format.h"
#include "data/protocol_reader.h"
#include "data/sampling.h"

namespace qtalign::data {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTaskFileKeys = {"name", "description", "labels", "options", "scoring", "shots", "template",
                                                "items", "answer_map", "demonstrations", "languages", "lens",
                                                "output_types"};
const std::vector<std::string> kLanguageKeys = {"code", "name", "items", "template", "words", "answer_map",
                                                "demonstrations", "count"};
const std::vector<std::string> kItemKeys = {"file", "format", "fields", "answer", "answer_map"};

// A misspelt key would silently fall back to a default: every object names only keys it may have.
void require_known_keys(const ProtocolReader& reader, const Json& object, const std::vector<std::string>& keys,
                        const std::string& where) {
  if (!object.is_object()) reader.fail(where, "expected a JSON object");
  for (const auto& entry : object.items())
    if (std::find(keys.begin(), keys.end(), entry.key()) == keys.end())
      reader.fail(where.empty() ? entry.key() : where + "." + entry.key(), "unknown key (known: " + listed(keys) + ")");
}

std::string at(const std::string& where, const std::string& key) { return where.empty() ? key : where + "." + key; }

// The language's template: its own, else the top-level one; {Word} placeholders that the language's
// "words" name are replaced by its word, the rest stay placeholders of item fields.
std::string language_template(const ProtocolReader& reader, const Json& root, const Json& language,
                              const std::set<std::string>& word_keys, const std::string& where) {
  std::string text;
  if (language.contains("template")) text = reader.string_member(language, "template", where);
  else if (root.contains("template")) text = reader.string_member(root, "template", "");
  else reader.fail(where, "no template (give " + where + ".template or a top-level template)");
  std::map<std::string, std::string> words;
  if (language.contains("words")) words = reader.string_map_member(language, "words", where);
  for (const std::string& key : word_keys)
    if (!words.count(key)) reader.fail(at(where, "words"), "missing the word '" + key + "' another language gives");
  std::map<std::string, std::string> values = words;
  for (const std::string& name : template_placeholders(text, reader.file().string() + ": " + at(where, "template")))
    if (!words.count(name)) values[name] = "{" + name + "}";
  text = render_template(text, values, reader.file().string() + ": " + at(where, "template"));
  if (text.empty() || text.back() != '"')
    reader.fail(at(where, "template"), "must end right after the opening quote of the answer (\")");
  return text;
}

// How a language's items are read: the top-level "items" defaults, then the language's own "items"
// (a file name, or an object overriding the defaults).
ItemSource item_source(const ProtocolReader& reader, const Json& root, const Json& language, const std::string& where,
                       std::string& file) {
  Json merged = root.contains("items") ? root["items"] : Json::object();
  require_known_keys(reader, merged, kItemKeys, "items");
  if (!language.contains("items")) reader.fail(where, "missing field 'items' (the file of the language's items)");
  const Json& own = language["items"];
  if (own.is_string()) {
    merged["file"] = own;
  } else {
    require_known_keys(reader, own, kItemKeys, at(where, "items"));
    for (const auto& entry : own.items()) merged[entry.key()] = entry.value();
  }
  file = reader.string_member(merged, "file", at(where, "items"));
  if (file.empty()) reader.fail(at(where, "items.file"), "empty file name");
  const fs::path path = fs::path(file).is_absolute() ? fs::path(file) : reader.file().parent_path() / file;
  file = path.lexically_normal().string();
  ItemSource source;
  const std::string extension = path.extension().string();
  source.format = extension == ".csv" ? "csv" : extension == ".tsv" ? "tsv" : "json";
  if (merged.contains("format")) source.format = reader.string_member(merged, "format", at(where, "items"));
  if (source.format != "json" && source.format != "jsonl" && source.format != "csv" && source.format != "tsv")
    reader.fail(at(where, "items.format"), "'" + source.format + "' is not one of json, jsonl, csv, tsv");
  if (source.format == "jsonl") source.format = "json";
  if (merged.contains("fields")) source.columns = reader.string_map_member(merged, "fields", at(where, "items"));
  if (merged.contains("answer")) source.answer = reader.string_member(merged, "answer", at(where, "items"));
  return source;
}

// The answer map of a language: its own, else its items', else the top-level one, else the top-level
// items', else each label standing for itself.
std::map<std::string, std::string> answer_map_of(const ProtocolReader& reader, const Json& root, const Json& language,
                                                 const std::vector<std::string>& labels, const std::string& where) {
  const Json* items = language.contains("items") && language["items"].is_object() ? &language["items"] : nullptr;
  const Json* root_items = root.contains("items") ? &root["items"] : nullptr;
  const std::vector<std::pair<const Json*, std::string>> candidates = {
      {&language, where}, {items, at(where, "items")}, {&root, ""}, {root_items, "items"}};
  for (const auto& [object, object_at] : candidates) {
    if (!object || !object->contains("answer_map")) continue;
    std::map<std::string, std::string> map = reader.string_map_member(*object, "answer_map", object_at);
    check_answer_map(reader, map, labels, at(object_at, "answer_map"));
    return map;
  }
  std::map<std::string, std::string> identity;
  for (const std::string& label : labels) identity[label] = label;
  return identity;
}

// The labels: given, or for multiple choice A, B, C, ... one per option.
std::vector<std::string> labels_of(const ProtocolReader& reader, const Json& root, const std::vector<std::string>& options) {
  if (root.contains("labels")) {
    std::vector<std::string> labels = reader.string_list_member(root, "labels", "");
    if (!options.empty() && labels.size() != options.size())
      reader.fail("labels", fmt::format("{} labels for {} options (one label per option)", labels.size(), options.size()));
    return labels;
  }
  if (options.empty()) reader.fail("", "missing field 'labels' (or 'options' for multiple choice)");
  if (options.size() > 26) reader.fail("options", "more than 26 options: give the labels");
  std::vector<std::string> labels;
  for (size_t i = 0; i < options.size(); ++i) labels.emplace_back(1, static_cast<char>('A' + i));
  return labels;
}

// "scoring": the option letters (the default) or, for multiple choice, each option's own text.
OptionScoring option_scoring_of(const ProtocolReader& reader, const Json& root, const std::vector<std::string>& options) {
  if (!root.contains("scoring")) return OptionScoring::letters;
  const std::string scoring = reader.string_member(root, "scoring", "");
  if (scoring == "letters") return OptionScoring::letters;
  if (scoring != "option_text") reader.fail("scoring", "'" + scoring + "' is not one of letters, option_text");
  if (options.empty())
    reader.fail("scoring", "option_text scores each item's options, and the task has no \"options\" (the fields holding them)");
  return OptionScoring::option_text;
}

// The words keys some language's "words" gives: every language must give all of them.
std::set<std::string> word_keys_of(const Json& languages) {
  std::set<std::string> keys;
  for (const Json& language : languages)
    if (language.is_object() && language.contains("words") && language["words"].is_object())
      for (const auto& entry : language["words"].items()) keys.insert(entry.key());
  return keys;
}

}  // namespace

DrawnDemonstrations drawn_demonstrations(const TaskProtocol& task, const std::string& language,
                                         const std::vector<TaskItem>& dev, int shots, uint64_t seed,
                                         const std::string& context) {
  std::vector<std::vector<size_t>> by_label(task.labels.size());
  for (size_t i = 0; i < dev.size(); ++i) {
    const auto label = std::find(task.labels.begin(), task.labels.end(), dev[i].label);
    by_label[static_cast<size_t>(label - task.labels.begin())].push_back(i);
  }
  for (size_t l = 0; l < by_label.size(); ++l) {
    std::mt19937_64 generator = seeded_generator(seed, task.labels[l]);
    shuffle_indices(by_label[l], generator);
  }
  DrawnDemonstrations drawn;
  for (int shot = 0; shot < shots; ++shot) {
    const size_t l = static_cast<size_t>(shot) % task.labels.size();
    const size_t rank = static_cast<size_t>(shot) / task.labels.size();
    if (rank >= by_label[l].size())
      throw Error(fmt::format("{}: {} demonstrations balanced over {} labels need {} items labelled '{}', the dev file has {}",
                              context, shots, task.labels.size(), rank + 1, task.labels[l], by_label[l].size()));
    const TaskItem& item = dev[by_label[l][rank]];
    const std::string& answer =
        task.option_scoring == OptionScoring::option_text ? item.fields.at(task.options[l]) : task.labels[l];
    if (shot > 0) drawn.block += '\n';
    drawn.block += question_text(task, language, item) + answer + "\"";
    drawn.answers.push_back(answer);
  }
  return drawn;
}

TaskProtocol read_task_file(const fs::path& file) {
  const ProtocolReader reader(file);
  const Json root = io::read_json_file(file, io::JsonComments::allowed);
  if (!root.is_object() || root.empty()) reader.fail("", "expected a JSON object with the task's fields (every *.json file of a tasks directory is a task "
                    "file: keep item files in a subfolder)");
  require_known_keys(reader, root, kTaskFileKeys, "");
  TaskProtocol task;
  task.source = file;
  task.name = root.contains("name") ? reader.string_member(root, "name", "") : file.stem().string();
  if (task.name.empty() || task.name == "all" || task.name.find_first_of(" /,") != std::string::npos)
    reader.fail("name", "'" + task.name + "' is not a task name (non-empty, not 'all', no spaces, commas or slashes)");
  if (root.contains("options")) task.options = reader.string_list_member(root, "options", "");
  task.labels = labels_of(reader, root, task.options);
  task.option_scoring = option_scoring_of(reader, root, task.options);
  const int64_t shots = reader.positive_integer_member(root, "shots", "");
  if (shots > 64) reader.fail("shots", "more than 64 demonstrations");
  task.shots = static_cast<int>(shots);

  const Json& languages = reader.member(root, "languages", "");
  if (!languages.is_array() || languages.empty()) reader.fail("languages", "expected a non-empty array of languages");
  const std::set<std::string> word_keys = word_keys_of(languages);
  std::map<std::string, Json> dev_draws;  // language -> its "demonstrations" object
  for (size_t l = 0; l < languages.size(); ++l) {
    const Json& json = languages[l];
    require_known_keys(reader, json, kLanguageKeys, fmt::format("languages[{}]", l));
    const std::string code = reader.string_member(json, "code", fmt::format("languages[{}]", l));
    if (code.empty() || code.find_first_of(" ,/") != std::string::npos)
      reader.fail(fmt::format("languages[{}].code", l), "'" + code + "' is not a language code");
    const std::string where = "languages." + code;
    if (task.languages.count(code)) reader.fail(where, "appears twice");
    task.language_order.push_back(code);
    task.language_names[code] = reader.string_member(json, "name", where);
    LanguageProtocol language;
    language.template_text = language_template(reader, root, json, word_keys, where);
    const std::vector<std::string> fields = template_fields(reader, language.template_text, at(where, "template"));
    if (task.fields.empty()) task.fields = fields;
    else if (fields != task.fields)
      reader.fail(at(where, "template"), fmt::format("uses the fields {{{}}}, {} uses {{{}}}", listed(fields),
                                                     task.language_order.front(), listed(task.fields)));
    language.items = item_source(reader, root, json, where, language.file);
    language.answer_map = answer_map_of(reader, root, json, task.labels, where);
    if (json.contains("count")) language.count = reader.positive_integer_member(json, "count", where);
    if (!json.contains("demonstrations")) reader.fail(where, "missing field 'demonstrations' (the block, or {\"dev\": FILE})");
    if (json["demonstrations"].is_string() && task.option_scoring == OptionScoring::option_text)
      reader.fail(at(where, "demonstrations"), "option_text scoring draws its demonstrations from a dev file "
                                               "({\"dev\": FILE}), so that each answer is known to be an option's text");
    if (json["demonstrations"].is_string()) language.demonstrations = json["demonstrations"].get<std::string>();
    else dev_draws[code] = json["demonstrations"];
    task.languages[code] = std::move(language);
  }
  // Scored by their own text, options need not be shown (a continuation task such as XCOPA's).
  for (const std::string& option : task.options)
    if (task.option_scoring == OptionScoring::letters &&
        std::find(task.fields.begin(), task.fields.end(), option) == task.fields.end())
      reader.fail("options", "the option field {" + option + "} is not in the template (fields: " + listed(task.fields) + ")");

  const Json defaults = root.contains("demonstrations") ? root["demonstrations"] : Json::object();
  require_known_keys(reader, defaults, {"seed"}, "demonstrations");
  for (const auto& [code, draw] : dev_draws) {
    const std::string where = "languages." + code + ".demonstrations";
    require_known_keys(reader, draw, {"dev", "seed"}, where);
    Json merged = defaults;
    merged.update(draw);
    const std::string dev = reader.string_member(merged, "dev", where);
    const fs::path dev_path = fs::path(dev).is_absolute() ? fs::path(dev) : file.parent_path() / dev;
    const Json seed = merged.value("seed", Json(0));
    if (!seed.is_number_integer() || seed.get<int64_t>() < 0) reader.fail(at(where, "seed"), "expected an integer >= 0");
    const std::vector<TaskItem> dev_items = read_task_items(dev_path.lexically_normal(), task, code);
    DrawnDemonstrations drawn =
        drawn_demonstrations(task, code, dev_items, task.shots, seed.get<uint64_t>(), file.string() + ": " + where);
    task.languages[code].demonstrations = std::move(drawn.block);
    if (task.option_scoring == OptionScoring::option_text)
      task.languages[code].demonstration_answers = std::move(drawn.answers);
  }
  check_demonstration_counts(reader, task, "languages");
  read_answer_type_blocks(reader, root, task, task.language_order, "");
  return task;
}

io::Json study_task_file(const Protocol& protocol, const std::string& name) {
  const TaskProtocol& task = protocol.task(name);
  if (!task.source.empty()) throw Error("task " + name + " is a task file already (" + task.source.string() + ")");
  const Json raw = io::read_json_file(protocol.source)["tasks"][name];
  Json file = {{"name", name}, {"labels", task.labels}, {"shots", task.shots}, {"languages", Json::array()}};
  for (const std::string& code : task.language_order) {
    const LanguageProtocol& language = task.language(code);
    file["languages"].push_back({{"code", code},
                                 {"name", protocol.question_translation.language_name(code)},
                                 {"items", fs::absolute(protocol.path_of(language.file)).lexically_normal().string()},
                                 {"count", language.count},
                                 {"template", language.template_text},
                                 {"answer_map", language.answer_map},
                                 {"demonstrations", language.demonstrations}});
  }
  for (const char* block : {"lens", "output_types"})
    if (raw.contains(block)) file[block] = raw[block];
  return file;
}

}  // namespace qtalign::data
