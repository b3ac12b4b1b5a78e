#pragma once
// What a representation (PCA / cross-lingual similarity) run is asked for: the typed spec its entry
// point (analysis/representation_pipeline.h) takes, whether from `qtalign pca` or from the study.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "analysis/bootstrap_settings.h"
#include "data/sampling.h"

namespace qtalign::analysis {

enum class Pooling {
  mean,        // the mean over every prompt token (the study's choice)
  last_token,  // the state at the last prompt token
};

enum class RepresentationPrompt {
  study,     // the study's: the few-shot prompt with 2 demonstrations answered in the language itself
  question,  // the item in the language's template without demonstrations (what question translation trains on)
  few_shot,  // the evaluation prompt, demonstrations answered with English labels
};

using LanguagePair = std::pair<std::string, std::string>;

struct RepresentationSpec {
  std::string task = "emotion";
  // The reference language is added first when missing, and the study's seven languages (en, de,
  // fr, hi, th, sw, ms) after these, as its correlation measure is fitted to them together.
  std::vector<std::string> languages;
  std::string reference_language = "en";
  // Pairs to correlate: those of the study whose languages are analysed, then these (their languages
  // are added to the analysis).
  std::vector<LanguagePair> extra_pairs;
  // The languages the PCA scatters are fitted to and show (empty: the reference and `languages`; the
  // study's figures: en, de, fr, hi).
  std::vector<std::string> scatter_languages;
  std::vector<int64_t> layers;       // residual-stream indices; empty = all
  std::vector<size_t> item_indices;  // candidate test items (empty: all), before the limit
  data::ItemLimit limit;             // items (count 0: all)
  int64_t batch_size = 8;
  Pooling pooling = Pooling::mean;
  RepresentationPrompt prompt = RepresentationPrompt::study;
  BootstrapSettings bootstrap;
  std::filesystem::path out;              // the output directory
  bool resume = false;                    // read out/representations.json instead when it exists
  std::filesystem::path compare_adapter;  // set: base into out/base, tuned (this adapter) into out/tuned
};

}  // namespace qtalign::analysis
