#include "analysis/lens_pipeline.h"

#include <fmt/format.h>

#include <cstdio>

#include "analysis/lens_outputs.h"
#include "io/error.h"
#include "io/provenance.h"

namespace qtalign::analysis {

void run_lens_variant(distributed::ProcessGroup& group, const model::LoadedModel& loaded,
                      const data::Protocol& protocol, const std::vector<LensLanguagePlan>& plans,
                      const LensSpec& spec, const std::string& variant) {
  const std::filesystem::path directory = variant_directory(spec.out, variant);
  if (plans.empty()) throw Error("logit lens: no languages to analyse");
  io::Json provenance = loaded.provenance;
  provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                        {"prompts_sha1", io::file_sha1(protocol.source)}};
  provenance["lens"] = {{"limit", spec.limit.count},
                        {"pick", data::item_pick_description(spec.limit)},
                        {"requested_items", spec.item_indices.size()},
                        {"top_k", spec.top_k},
                        {"answer_type", data::answer_type_name(spec.answer_type)},
                        {"token_sets", "prefix-sum candidates of the label words (prompts.json scoring)"},
                        {"forced_prefix", spec.forced_prefix ? "appended, remainders read (the study's evaluation script)"
                                                             : "none, whole words read (the study's lens script)"},
                        {"entropy_unit", "bits"},
                        {"overlap_filter", "items whose correct answer's English and test-language candidates "
                                           "share a token are dropped, but in English (as the study's lens script)"}};
  if (group.is_main())
    for (const LensLanguagePlan& plan : plans)
      if (!plan.dropped_indices.empty())
        std::fprintf(stderr, "lens %s/%s: %s\n", plan.task.c_str(), plan.language.c_str(),
                     lens_drop_reason(plan, loaded.tokenizer).c_str());
  // Rank 0 decides what is left to run, as only its output directory is sure to exist.
  std::string skipped(plans.size(), '0');
  if (group.is_main())
    for (size_t p = 0; p < plans.size(); ++p) {
      const std::filesystem::path file = directory / (plans[p].language + ".json");
      if (!spec.resume || !std::filesystem::exists(file)) continue;
      std::fprintf(stderr, "lens %s/%s: already done (%s)\n", plans[p].task.c_str(), plans[p].language.c_str(),
                   file.c_str());
      skipped[p] = '1';
    }
  skipped = group.all_gather_text(skipped).front();
  std::vector<std::string> languages;
  std::vector<LensLanguagePlan> pending;
  for (size_t p = 0; p < plans.size(); ++p) {
    languages.push_back(plans[p].language);
    if (skipped[p] == '0') pending.push_back(plans[p]);
  }
  run_lens_shared(group, loaded.model, pending, spec, [&](const LensLanguageResult& result) {
    write_lens_outputs(result, loaded.tokenizer, loaded.model.vocab_size(), variant, directory, provenance);
  });
  if (group.is_main()) write_lens_overview(languages, directory, variant);
}

void compare_lens_variants(distributed::ProcessGroup& group, const data::Protocol& protocol, const LensSpec& spec) {
  if (!group.is_main()) return;
  write_lens_comparison(spec.out / "base", spec.out / "tuned", lens_spec_languages(protocol, spec),
                        spec.out / "comparison");
}

std::filesystem::path run_lens_analysis(distributed::ProcessGroup& group, model::LoadedModel& loaded,
                                        const data::Protocol& protocol, const LensSpec& requested) {
  LensSpec spec = requested;
  const int64_t vocab = loaded.model.vocab_size();
  if (spec.top_k > vocab) {
    // More tokens than the vocabulary holds would only repeat it, item by item and layer by layer.
    if (group.is_main())
      std::fprintf(stderr, "lens: --top-k %d capped at the vocabulary's %lld tokens\n", spec.top_k,
                   static_cast<long long>(vocab));
    spec.top_k = static_cast<int>(vocab);
  }
  // Every language's prompts, token sets and dropped items, before the first forward pass.
  const std::vector<LensLanguagePlan> plans = plan_lens(loaded.tokenizer, protocol, spec);
  if (spec.compare_adapter.empty()) {
    run_lens_variant(group, loaded, protocol, plans, spec, "");
    return spec.out / "summary.md";
  }
  run_base_and_tuned(
      &loaded, spec.compare_adapter,
      {{[&](const std::string& variant) { run_lens_variant(group, loaded, protocol, plans, spec, variant); },
        [&] { compare_lens_variants(group, protocol, spec); }}});
  return spec.out / "comparison" / "comparison.md";
}

void check_lens_spec(const LensSpec& spec) {
  if (!(spec.bootstrap.confidence > 0.0 && spec.bootstrap.confidence < 1.0))
    throw Error("--confidence must lie strictly between 0 and 1");
  if (spec.bootstrap.resamples < 1) throw Error("--resamples must be at least 1");
  if (spec.top_k < 0) throw Error("--top-k must not be negative");
}

const char* const kLensHelp = R"(Logit lens, as the study ran it.

Each item's prompt is the few-shot prompt with demonstrations answered in the language itself
(--labels same-language, the study's choice) or in English (--labels english), ending right after
the opening quote of the answer (as the study's lens script; Thai answers, which share the start
เชิง, are read as whole words; --thai-forced-prefix appends เชิง and reads the remainders, as the
study's evaluation script scores them). At every layer (0 = embeddings, i = output of layer i) the residual
stream at that position goes through the final norm and the unembedding; from that distribution the
lens reads the probability of the correct answer in English (the latent answer), of the correct
answer in the language, of all the task's answers in the language and of all of them in English
(each answer: the prefix-sum candidate tokens of its word, the rule evaluation scores with), and
the entropy in bits. Items whose correct answer's English and language candidates share a token are
left out (both readings would count it), counted and explained (the shared tokens named), but in
English, whose two readings are the same word (as in the study). Per layer: the mean over items with a seeded
percentile-bootstrap interval. Everything is checked before the first forward pass.

Writes into --out, per language: <lang>.json (summary, token sets, items read and dropped,
per-item readings, provenance), <lang>.csv (one row per layer) and <lang>.png/.svg (the four
probabilities with their bands over layers, entropy beneath on the fixed scale 0..log2(vocabulary) bits);
and summary.md, summary.json, overview_latent / overview_native charts of every language. With
--compare-adapter it runs twice, as base (the model, with --adapter if given) into --out/base and
tuned (with the compare adapter) into --out/tuned, and --out/comparison holds per-language charts of
both (base dashed, tuned solid) and comparison.md.)";

}  // namespace qtalign::analysis
