#pragma once
// What a logit-lens run is asked for: the typed spec its entry point (analysis/lens_pipeline.h) takes,
// whether from `qtalign lens` or from the study.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/bootstrap_settings.h"
#include "data/answer_type.h"
#include "data/sampling.h"

namespace qtalign::analysis {

struct LensSpec {
  std::string task = "emotion";
  std::vector<std::string> languages;  // empty: every language the lens can read (lens_languages)
  data::AnswerType answer_type = data::AnswerType::same_language;  // how the demonstrations answer
  // Same-language prompts of a language whose answers share a start (Thai เชิง-): false, the study's
  // lens script, ends the prompt at the opening quote and reads the whole words; true, the study's
  // evaluation script, appends the shared start and reads the remainders.
  bool forced_prefix = false;
  std::vector<size_t> item_indices;  // candidate test items (empty: all), before the limit
  data::ItemLimit limit{100, data::ItemPick::balanced, 0};
  int64_t batch_size = 8;
  int top_k = 5;
  BootstrapSettings bootstrap;
  std::filesystem::path out;              // the output directory
  bool resume = false;                    // keep languages whose <lang>.json is already in the directory
  std::filesystem::path compare_adapter;  // set: base into out/base, tuned (this adapter) into out/tuned
};

}  // namespace qtalign::analysis
