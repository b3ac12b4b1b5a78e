#include "eval/few_shot.h"

#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "io/error.h"

namespace qtalign::eval {
namespace {

constexpr std::string_view kDemonstrationsLine = "{demonstrations}\n";

bool is_answer_line(std::string_view line, const std::vector<std::string>& labels) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  for (const std::string& label : labels) {
    const std::string quoted = "\"" + label + "\"";
    if (line.size() >= quoted.size() && line.substr(line.size() - quoted.size()) == quoted) return true;
  }
  return false;
}

// Byte offsets just past each answer line (before its newline) of a few-shot block.
std::vector<size_t> answer_line_ends(std::string_view block, const std::vector<std::string>& labels) {
  std::vector<size_t> ends;
  size_t start = 0;
  while (start <= block.size()) {
    size_t end = block.find('\n', start);
    if (end == std::string_view::npos) end = block.size();
    if (is_answer_line(block.substr(start, end - start), labels)) ends.push_back(end);
    start = end + 1;
  }
  return ends;
}

}  // namespace

data::TaskProtocol with_shots(const data::TaskProtocol& task, int shots) {
  if (shots < 0 || shots > task.shots)
    throw Error(fmt::format("--shots {}: task {} has {} demonstrations per language (choose 0 to {})", shots,
                            task.name, task.shots, task.shots));
  if (shots == task.shots) return task;
  data::TaskProtocol cut = task;
  cut.shots = shots;
  for (auto& [language, protocol] : cut.languages) {
    const std::string context = fmt::format("task {} language {}", task.name, language);
    const std::vector<size_t> ends = answer_line_ends(protocol.demonstrations, task.labels);
    if (ends.size() != static_cast<size_t>(task.shots))
      throw Error(fmt::format("{}: the demonstrations hold {} answer lines, not {}, so they cannot be cut to {} shots",
                              context, ends.size(), task.shots, shots));
    if (shots > 0) {
      protocol.demonstrations.resize(ends[static_cast<size_t>(shots) - 1]);
      continue;
    }
    if (protocol.template_text.compare(0, kDemonstrationsLine.size(), kDemonstrationsLine) != 0)
      throw Error(context + ": the template does not start with \"{demonstrations}\\n\", so 0 shots is undefined");
    protocol.template_text.erase(0, kDemonstrationsLine.size());
    protocol.demonstrations.clear();
  }
  return cut;
}

}  // namespace qtalign::eval
