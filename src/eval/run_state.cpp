#include "eval/run_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "io/atomic_file.h"
#include "io/error.h"

namespace qtalign::eval {
namespace {

constexpr const char* kSettingsFile = "run.json";
constexpr const char* kPieceMark = ".items-";  // in piece files' names: <task>.<language>.items-<begin>-<end>.json

bool is_piece(const std::string& name) { return name.find(kPieceMark) != std::string::npos; }

io::Json item_to_json(const ItemResult& item) {
  return {{"index", item.index},   {"answer", item.answer}, {"label", item.label}, {"prediction", item.prediction},
          {"scores", item.scores}, {"cached", item.cached}, {"prompt_tokens", item.prompt_tokens}};
}

ItemResult item_from_json(const io::Json& json, const std::filesystem::path& file, const std::string& where) {
  ItemResult item;
  item.index = io::required_field<size_t>(json, "index", file, where);
  item.answer = io::required_field<std::string>(json, "answer", file, where);
  item.label = io::required_field<std::string>(json, "label", file, where);
  item.prediction = io::required_field<std::string>(json, "prediction", file, where);
  item.scores = io::required_field<std::vector<double>>(json, "scores", file, where);
  item.cached = io::required_field<bool>(json, "cached", file, where);
  item.prompt_tokens = io::required_field<int64_t>(json, "prompt_tokens", file, where);
  return item;
}

// "/mode: stored \"prefix-sum\", now \"sequence\"" for the first difference of two settings objects.
std::string first_difference(const io::Json& stored, const io::Json& current) {
  const io::Json patch = io::Json::diff(stored, current);
  if (patch.empty()) return "";
  const std::string path = patch.front().value("path", "");
  const io::Json::json_pointer pointer(path);
  const std::string before = stored.contains(pointer) ? stored.at(pointer).dump() : "(absent)";
  const std::string after = current.contains(pointer) ? current.at(pointer).dump() : "(absent)";
  return fmt::format("{}: stored {}, now {}", path, before, after);
}

}  // namespace

io::Json language_evaluation_to_json(const LanguageEvaluation& evaluation) {
  io::Json items = io::Json::array();
  for (const ItemResult& item : evaluation.items) items.push_back(item_to_json(item));
  return {{"task", evaluation.task},
          {"language", evaluation.language},
          {"mode", evaluation.mode},
          {"labels", evaluation.labels},
          {"prefix_tokens", evaluation.prefix_tokens},
          {"prefix_fallbacks", evaluation.prefix_fallbacks},
          {"computed_tokens", evaluation.computed_tokens},
          {"truncated_prompts", evaluation.truncated_prompts},
          {"seconds", evaluation.seconds},
          {"items", std::move(items)}};
}

LanguageEvaluation language_evaluation_from_json(const io::Json& json, const std::filesystem::path& file) {
  LanguageEvaluation evaluation;
  evaluation.task = io::required_field<std::string>(json, "task", file);
  evaluation.language = io::required_field<std::string>(json, "language", file);
  evaluation.mode = io::required_field<std::string>(json, "mode", file);
  evaluation.labels = io::required_field<std::vector<std::string>>(json, "labels", file);
  evaluation.prefix_tokens = io::required_field<int64_t>(json, "prefix_tokens", file);
  evaluation.prefix_fallbacks = io::required_field<int64_t>(json, "prefix_fallbacks", file);
  evaluation.computed_tokens = io::required_field<int64_t>(json, "computed_tokens", file);
  evaluation.truncated_prompts = json.value("truncated_prompts", int64_t{0});  // absent in older state files
  evaluation.seconds = io::required_field<double>(json, "seconds", file);
  const io::Json items = io::required_field<io::Json>(json, "items", file);
  if (!items.is_array() || items.empty()) fail_at(file, "items: expected a non-empty array");
  for (size_t i = 0; i < items.size(); ++i) {
    ItemResult item = item_from_json(items[i], file, fmt::format("items[{}]", i));
    if (item.scores.size() != evaluation.labels.size())
      fail_at(file, fmt::format("items[{}]: {} scores for {} labels", i, item.scores.size(), evaluation.labels.size()));
    evaluation.items.push_back(std::move(item));
  }
  return evaluation;
}

std::filesystem::path state_directory_for(const std::filesystem::path& results_file) {
  return results_file.parent_path() / (results_file.filename().string() + ".state");
}

RunState::RunState(const std::filesystem::path& results_file, const io::Json& settings)
    : directory_(state_directory_for(results_file)) {
  const std::filesystem::path settings_file = directory_ / kSettingsFile;
  if (!std::filesystem::exists(settings_file)) {
    io::write_json_file(settings_file, settings);
    return;
  }
  const io::Json stored = io::read_json_file(settings_file);
  const std::string difference = first_difference(stored, settings);
  if (difference.empty()) return;
  // A run that ended before finishing any pair or piece (a failed start) leaves nothing worth keeping.
  const size_t pairs = stored_pairs(), pieces = stored_pieces();
  if (pairs == 0 && pieces == 0) {
    io::write_json_file(settings_file, settings);
    return;
  }
  std::string held = pairs > 0 ? fmt::format("{} finished pair(s)", pairs) : "";
  if (pieces > 0) held += fmt::format("{}{} finished piece(s) of unfinished pairs", pairs > 0 ? " and " : "", pieces);
  fail_at(directory_, fmt::format("holds {} of an interrupted run with other settings ({}); rerun with the same "
                                  "settings to resume it, add --restart to discard it, or choose another --out",
                                  held, difference));
}

std::vector<std::string> RunState::stored_names() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
    std::string name = entry.path().filename().string();
    // Besides the stored evaluations: the settings, and temporaries of killed writers (".<name>.tmp-...").
    if (name != kSettingsFile && name[0] != '.' && entry.path().extension() == ".json")
      names.push_back(std::move(name));
  }
  return names;
}

size_t RunState::stored_pairs() const { return stored_names().size() - stored_pieces(); }

size_t RunState::stored_pieces() const {
  const std::vector<std::string> names = stored_names();
  return static_cast<size_t>(std::count_if(names.begin(), names.end(), is_piece));
}

std::vector<std::filesystem::path> RunState::piece_files(const std::string& task, const std::string& language) const {
  const std::string start = task + "." + language + kPieceMark;
  std::vector<std::filesystem::path> files;
  for (const std::string& name : stored_names())
    if (name.rfind(start, 0) == 0) files.push_back(directory_ / name);
  return files;
}

std::filesystem::path RunState::pair_file(const std::string& task, const std::string& language) const {
  return directory_ / fmt::format("{}.{}.json", task, language);
}

std::optional<LanguageEvaluation> RunState::load(const std::string& task, const std::string& language,
                                                 const std::string& test_file_hash) const {
  const std::filesystem::path file = pair_file(task, language);
  if (!std::filesystem::exists(file)) return std::nullopt;
  const io::Json stored = io::read_json_file(file);
  if (io::required_field<std::string>(stored, "test_file_sha1", file) != test_file_hash) return std::nullopt;
  LanguageEvaluation evaluation = language_evaluation_from_json(io::required_field<io::Json>(stored, "evaluation", file), file);
  if (evaluation.task != task || evaluation.language != language)
    fail_at(file, fmt::format("holds {}/{}, not {}/{}", evaluation.task, evaluation.language, task, language));
  return evaluation;
}

std::vector<PairPiece> RunState::load_pieces(const std::string& task, const std::string& language,
                                             const std::string& test_file_hash) const {
  std::vector<PairPiece> pieces;
  for (const std::filesystem::path& file : piece_files(task, language)) {
    const io::Json stored = io::read_json_file(file);
    if (io::required_field<std::string>(stored, "test_file_sha1", file) != test_file_hash) continue;
    PairPiece piece{io::required_field<size_t>(stored, "begin", file),
                    language_evaluation_from_json(io::required_field<io::Json>(stored, "evaluation", file), file)};
    if (piece.evaluation.task != task || piece.evaluation.language != language)
      fail_at(file, fmt::format("holds {}/{}, not {}/{}", piece.evaluation.task, piece.evaluation.language, task,
                                language));
    pieces.push_back(std::move(piece));
  }
  std::sort(pieces.begin(), pieces.end(), [](const PairPiece& a, const PairPiece& b) { return a.begin < b.begin; });
  return pieces;
}

void RunState::store(const LanguageEvaluation& evaluation, const std::string& test_file_hash) const {
  io::write_json_file(pair_file(evaluation.task, evaluation.language),
                      {{"test_file_sha1", test_file_hash}, {"evaluation", language_evaluation_to_json(evaluation)}});
  // The pair file supersedes its pieces; one left by a kill here is never read while the pair file exists.
  for (const std::filesystem::path& file : piece_files(evaluation.task, evaluation.language)) {
    std::error_code error;
    std::filesystem::remove(file, error);
    if (error) fail_at(file, "cannot remove the piece of a finished pair: " + error.message());
  }
}

void RunState::store_piece(const PairPiece& piece, const std::string& test_file_hash) const {
  const LanguageEvaluation& evaluation = piece.evaluation;
  io::write_json_file(directory_ / fmt::format("{}.{}{}{}-{}.json", evaluation.task, evaluation.language, kPieceMark,
                                               piece.begin, piece.end()),
                      {{"test_file_sha1", test_file_hash},
                       {"begin", piece.begin},
                       {"evaluation", language_evaluation_to_json(evaluation)}});
}

void RunState::remove() const {
  std::error_code error;
  std::filesystem::remove_all(directory_, error);
  if (error) fail_at(directory_, "cannot remove the finished run's state: " + error.message());
}

}  // namespace qtalign::eval
