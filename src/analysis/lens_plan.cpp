#include "analysis/lens_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "analysis/text_output.h"
#include "data/prompt_format.h"
#include "data/task_items.h"
#include "eval/label_tokens.h"
#include "io/error.h"

namespace qtalign::analysis {

std::vector<std::string> lens_languages(const data::Protocol& protocol, const std::string& task) {
  const data::LensProtocol& lens = protocol.task(task).lens_protocol();
  std::vector<std::string> languages;
  for (const std::string& language : protocol.task(task).language_order)
    if (lens.demonstrations.count(language) && lens.native_labels.count(language))
      languages.push_back(language);
  return languages;
}

std::vector<std::string> lens_spec_languages(const data::Protocol& protocol, const LensSpec& spec) {
  return spec.languages.empty() ? lens_languages(protocol, protocol.task(spec.task).name) : spec.languages;
}

LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                              const std::string& language, data::AnswerType answer_type, bool forced_prefix) {
  const data::AnswerWords native = data::answer_words(task, language, data::AnswerType::same_language);
  // The forced prefix is only in the prompt when asked for and the prompt answers in the language.
  const std::vector<std::string> native_words =
      forced_prefix && answer_type == data::AnswerType::same_language ? native.scored_words() : native.words;
  LensTokenSets sets;
  for (size_t label = 0; label < task.labels.size(); ++label) {
    sets.english.push_back(eval::prefix_sum_candidates(tokenizer, task.labels[label]));
    sets.native.push_back(eval::prefix_sum_candidates(tokenizer, native_words.at(label)));
  }
  return sets;
}

std::string lens_drop_reason(const LensLanguagePlan& plan, const tokenizer::Tokenizer& tokenizer) {
  if (plan.dropped_indices.empty()) return "";
  std::vector<std::string> shares;
  for (size_t label = 0; label < plan.english_labels.size(); ++label) {
    std::vector<std::string> tokens;
    for (int64_t id : plan.token_sets.shared(label)) tokens.push_back("'" + token_text(tokenizer, id) + "'");
    if (!tokens.empty())
      shares.push_back(fmt::format("{}/{} share {}", plan.english_labels[label], plan.native_labels.at(label),
                                   fmt::join(tokens, ", ")));
  }
  return fmt::format("{} of {} items dropped: their English and {} answers share candidate tokens ({}), so the two "
                     "readings cannot be told apart",
                     plan.dropped_indices.size(), plan.sampled_indices.size(), plan.language, fmt::join(shares, "; "));
}

std::vector<LensLanguagePlan> plan_lens(const tokenizer::Tokenizer& tokenizer, const data::Protocol& protocol,
                                        const LensSpec& spec) {
  const std::vector<std::string> languages = lens_spec_languages(protocol, spec);
  if (languages.empty()) throw Error("logit lens: no languages to analyse");
  if (spec.answer_type == data::AnswerType::task_agnostic)
    throw Error("logit lens: --labels must be english or same-language (the lens reads answers in both writings)");
  const data::TaskProtocol& task = protocol.task(spec.task);
  std::vector<LensLanguagePlan> plans;
  size_t kept = 0;
  for (const std::string& language : languages) {
    protocol.require_language(language);
    LensLanguagePlan plan;
    plan.task = task.name;
    plan.language = language;
    plan.answer_type = spec.answer_type;
    plan.english_labels = task.labels;
    plan.native_labels = data::answer_words(task, language, data::AnswerType::same_language).words;
    if (spec.forced_prefix) plan.forced_prefix = data::answer_words(task, language, spec.answer_type).forced_prefix;
    plan.token_sets = lens_token_sets(tokenizer, task, language, spec.answer_type, spec.forced_prefix);

    const std::vector<data::TaskItem> items = data::read_test_set(protocol, task.name, language);
    plan.sampled_indices =
        data::pick_test_items(items, spec.item_indices, spec.limit, fmt::format("{}/{}", task.name, language));
    std::vector<size_t> labels;
    for (size_t index : plan.sampled_indices)
      labels.push_back(static_cast<size_t>(std::find(task.labels.begin(), task.labels.end(), items[index].label) -
                                           task.labels.begin()));
    // The study's lens script exempts English: both readings are the same word there.
    if (language == "en")
      plan.item_indices = plan.sampled_indices;
    else
      plan.item_indices = items_without_overlap(plan.sampled_indices, labels, plan.token_sets, plan.dropped_indices);
    const std::vector<int64_t> prefix_ids =
        plan.forced_prefix.empty() ? std::vector<int64_t>() : tokenizer.encode(plan.forced_prefix, false);
    for (size_t i = 0; i < plan.sampled_indices.size(); ++i) {
      const size_t index = plan.sampled_indices[i];
      if (!std::binary_search(plan.item_indices.begin(), plan.item_indices.end(), index)) continue;
      plan.item_labels.push_back(labels[i]);
      std::vector<int64_t> prompt =
          tokenizer.encode(data::evaluation_prompt(task, language, items[index], spec.answer_type), true);
      prompt.insert(prompt.end(), prefix_ids.begin(), prefix_ids.end());
      plan.prompts.push_back(std::move(prompt));
    }
    kept += plan.item_indices.size();
    plans.push_back(std::move(plan));
  }
  if (kept == 0)
    throw Error(fmt::format("logit lens: every item of every language ({}) was dropped because its English and "
                            "test-language answers share candidate tokens; choose languages with another script",
                            fmt::join(languages, ", ")));
  return plans;
}

}  // namespace qtalign::analysis
