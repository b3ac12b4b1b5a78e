#include "eval/few_shot.h"

#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "data/demonstrations.h"
#include "io/error.h"

namespace qtalign::eval {
namespace {

constexpr std::string_view kDemonstrationsLine = "{demonstrations}\n";

// `block` cut after its `shots`-th answer line (an answer being one of `labels`, quoted), or emptied
// for 0 shots; throws Error naming `context` unless the block holds `total` answer lines.
void cut_block(std::string& block, const std::vector<std::string>& labels, int total, int shots,
               const std::string& context) {
  const std::vector<size_t> ends = data::answer_line_ends(block, labels);
  if (ends.size() != static_cast<size_t>(total))
    throw Error(fmt::format("{}: the demonstrations hold {} answer lines, not {}, so they cannot be cut to {} shots",
                            context, ends.size(), total, shots));
  if (shots == 0) block.clear();
  else block.resize(ends[static_cast<size_t>(shots) - 1]);
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
    cut_block(protocol.demonstrations, task.demonstration_words(language), task.shots, shots, context);
    if (!protocol.demonstration_answers.empty()) protocol.demonstration_answers.resize(static_cast<size_t>(shots));
    if (shots > 0) continue;
    if (protocol.template_text.compare(0, kDemonstrationsLine.size(), kDemonstrationsLine) != 0)
      throw Error(context + ": the template does not start with \"{demonstrations}\\n\", so 0 shots is undefined");
    protocol.template_text.erase(0, kDemonstrationsLine.size());
  }
  // Same-language prompts use the lens blocks, answered with the language's own words.
  if (cut.lens)
    for (auto& [language, block] : cut.lens->demonstrations) {
      std::vector<std::string> words;
      for (const auto& entry : cut.lens->native_labels.at(language)) words.push_back(entry.second);
      cut_block(block, words, task.shots, shots, fmt::format("task {} lens demonstrations of {}", task.name, language));
    }
  return cut;
}

}  // namespace qtalign::eval
