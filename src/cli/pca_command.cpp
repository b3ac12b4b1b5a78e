// qtalign pca: per-layer representations of the same items in several languages: PCA scatter, PC1
// correlations between languages, cosine similarity to English; base vs tuned with --compare-adapter.
#include <memory>

#include "analysis/representation_pipeline.h"
#include "cli/analysis_options.h"
#include "cli/commands.h"

namespace qtalign::cli {
namespace {

struct PcaArguments {
  AnalysisArguments common;
  analysis::RepresentationSpec spec;  // but what `common` and the fields below fill in
  std::string languages = "en,de,fr,hi,th,sw,ms";
  std::string pairs;
  std::string layers = "all";
  std::string prompt = "default";
  bool as_study = false;
  PcaArguments() { spec.bootstrap.resamples = 2000; }
};

constexpr const char* kPcaDescription = R"(Cross-lingual representations per layer, as the study measured them.

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

// The spec the arguments ask for, checked before the model loads but for the layers (which need the
// model's depth).
analysis::RepresentationSpec representation_spec(const PcaArguments& arguments, const data::Protocol& protocol) {
  analysis::RepresentationSpec spec = arguments.spec;
  spec.task = protocol.task(arguments.common.task).name;
  spec.languages = data::parse_language_list(protocol, arguments.languages);
  if (!arguments.pairs.empty()) spec.extra_pairs = analysis::parse_language_pairs(protocol, arguments.pairs);
  fill_analysis_spec(spec, arguments.common);
  spec.prompt = arguments.prompt == "default" ? analysis::default_representation_prompt(protocol.task(spec.task))
                                              : analysis::parse_representation_prompt(arguments.prompt);
  spec.bootstrap = {spec.bootstrap.resamples, arguments.common.seed, 0.95};
  if (arguments.as_study) analysis::take_study_choices(spec);
  return spec;
}

}  // namespace

void add_pca_command(CLI::App& app) {
  auto arguments = std::make_shared<PcaArguments>();
  CLI::App* command = app.add_subcommand("pca", kPcaDescription);
  add_analysis_model_options(command, arguments->common,
                             "a second adapter (e.g. the tuned one): run both and overlay the cosine curves");
  command->add_option("--task", arguments->common.task, "emotion, snli, paws or a task file's (--langs from its languages)")
      ->capture_default_str();
  command->add_option("--langs", arguments->languages,
                      "languages such as en,de,fr,hi, or all, scattered and compared by cosine (en and the study's "
                      "seven are always added for the correlations)")
      ->capture_default_str();
  command->add_option("--pairs", arguments->pairs,
                      "language pairs to correlate besides the study's, such as zh-ja,en-ru (languages are added)");
  command->add_option("--layers", arguments->layers, "all, or residual-stream indices such as 0,6,12")
      ->capture_default_str();
  add_parsed_option(command, "--pooling", arguments->spec.pooling, analysis::parse_pooling, analysis::pooling_name,
                    "mean (over the prompt's tokens) or last");
  command->add_option("--prompt", arguments->prompt,
                      "study (2-shot, same-language answers), question or few-shot; default: study for emotion, "
                      "else question")
      ->capture_default_str();
  command->add_option("--resamples", arguments->spec.bootstrap.resamples, "bootstrap resamples for the cosine intervals")
      ->capture_default_str();
  command->add_flag("--as-study", arguments->as_study,
                    "the study's notebook: emotion, study prompt, mean pooling, all layers, every item in file order, "
                    "en,de,fr,hi,th,sw,ms, scatters of en,de,fr,hi (overrides those options)");
  add_analysis_run_options(command, arguments->common, "(the same in every language)");
  command->callback([arguments] {
    const auto make_spec = [&](const data::Protocol& protocol) { return representation_spec(*arguments, protocol); };
    run_analysis_command(arguments->common, make_spec,
                         [&](distributed::ProcessGroup& group, model::LoadedModel& loaded,
                             const data::Protocol& protocol, analysis::RepresentationSpec& spec) {
                           spec.layers = analysis::parse_layer_list(arguments->as_study ? "all" : arguments->layers,
                                                                   loaded.model.config.num_hidden_layers);
                           return analysis::run_representation_analysis(group, loaded, protocol, spec);
                         });
  });
}

}  // namespace qtalign::cli
