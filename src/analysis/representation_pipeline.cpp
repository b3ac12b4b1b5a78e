#include "analysis/representation_pipeline.h"

#include <cstdio>

#include "analysis/representation_outputs.h"
#include "analysis/representations_json.h"
#include "io/provenance.h"

namespace qtalign::analysis {
namespace {

RepresentationResult read_result(const std::filesystem::path& file) {
  return representation_result_from_json(io::read_json_file(file), file);
}

}  // namespace

std::optional<RepresentationResult> run_representation_variant(distributed::ProcessGroup& group,
                                                               const model::LoadedModel& loaded,
                                                               const data::Protocol& protocol,
                                                               const RepresentationSpec& spec,
                                                               const std::string& variant) {
  const std::filesystem::path directory = variant_directory(spec.out, variant);
  const std::filesystem::path file = directory / "representations.json";
  // Rank 0 decides, as only its output directory is sure to exist.
  const bool skip = group.all_gather_text(spec.resume && std::filesystem::exists(file) ? "1" : "0").front() == "1";
  if (skip) {
    if (!group.is_main()) return std::nullopt;
    std::fprintf(stderr, "representations: already done (%s)\n", file.c_str());
    return read_result(file);
  }
  std::optional<RepresentationResult> result =
      run_representations(group, loaded.model, loaded.tokenizer, protocol, spec);
  if (!result) return std::nullopt;
  result->provenance = loaded.provenance;
  result->provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                                {"prompts_sha1", io::file_sha1(protocol.source)}};
  write_representation_outputs(*result, directory);
  return result;
}

void compare_representation_variants(distributed::ProcessGroup& group, const RepresentationSpec& spec) {
  if (!group.is_main()) return;
  write_base_tuned_comparison(read_result(spec.out / "base" / "representations.json"),
                              read_result(spec.out / "tuned" / "representations.json"), spec.out);
}

std::filesystem::path run_representation_analysis(distributed::ProcessGroup& group, model::LoadedModel& loaded,
                                                  const data::Protocol& protocol, const RepresentationSpec& spec) {
  if (spec.compare_adapter.empty()) {
    run_representation_variant(group, loaded, protocol, spec, "");
    return spec.out / "representations.md";
  }
  run_base_and_tuned(
      &loaded, spec.compare_adapter,
      {{[&](const std::string& variant) { run_representation_variant(group, loaded, protocol, spec, variant); },
        [&] { compare_representation_variants(group, spec); }}});
  return spec.out / "pair_correlation_comparison.md";
}

void take_study_choices(RepresentationSpec& spec) {
  spec.task = "emotion";
  spec.languages = study_correlation_languages();
  spec.scatter_languages = study_scatter_languages();
  spec.limit = {};  // every item, in file order
  spec.prompt = RepresentationPrompt::study;
  spec.pooling = Pooling::mean;
}

const char* const kRepresentationHelp = R"(Cross-lingual representations per layer, as the study measured them.

For the same test items in every language (parallel items: item i is the same in each), each
prompt's hidden states (0 = embeddings, i = the residual stream after layer i, the last layer after
the final norm as transformers' hidden_states, which the study read) are pooled into one vector: the
mean over all prompt tokens (the study's choice) or the last token (--pooling last). Prompts
(--prompt):
  study     the study's: the few-shot prompt whose 2 demonstrations answer in the language itself
            (the default for emotion, the only task with same-language answers)
  question  the item's question alone, as question translation trains on (the default otherwise)
  few-shot  the evaluation prompt, demonstrations answered with English labels
Per layer: a 2-D PCA scattered by language, fitted to the --langs languages (the study's figures:
en, de, fr, hi); for each language pair the study's measure, the Pearson correlation of the items'
coordinates on one 1-D PCA fitted to the study's seven languages (en, de, fr, hi, th, sw, ms)
together, paired by item (those seven are always pooled for it, whatever --langs is; the study's
pairs en-de, en-fr, en-hi, de-fr, de-hi, fr-hi, en-th, en-sw, en-ms, plus --pairs), and beside it
the same with a PCA fitted to each pair alone (per-pair fit, not the study's); and the mean cosine
similarity of each language's vector with English's for the same item. Fewer than 10 items make
the correlations meaningless: the outputs warn. The outputs say where a figure differs from the
study's notebook (other scatter languages, a sample of items).

--as-study takes every choice of the study's notebook: emotion, the study prompt, mean pooling,
every layer, all items in file order, the seven languages, scatters of en, de, fr, hi.

Writes into --out: layer_<L>.png/.svg, cosine.png/.svg/.csv, pair_correlation.csv,
representations.md and representations.json. With --compare-adapter the analysis runs twice, as
base (the model, with --adapter if given) into --out/base and tuned (with the compare adapter instead)
into --out/tuned; then cosine_comparison.png/.svg/.csv overlays the two (a colour per language,
tuned solid, base dashed), and pair_correlation_comparison.md/.csv/.json (one table) and
pair_correlation_layer_<L>.png/.svg (one figure per layer) set the study's pair correlations of base
and tuned side by side.)";

}  // namespace qtalign::analysis
