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

// The spec the arguments ask for, checked before the model loads but for the layers (which need the
// model's depth).
analysis::RepresentationSpec representation_spec(const PcaArguments& arguments, const data::Protocol& protocol) {
  analysis::RepresentationSpec spec = arguments.spec;
  spec.task = protocol.task(spec.task).name;
  spec.languages = data::parse_language_list(protocol, arguments.languages);
  if (!arguments.pairs.empty()) spec.extra_pairs = analysis::parse_language_pairs(protocol, arguments.pairs);
  fill_analysis_spec(spec, arguments.common);
  spec.prompt = arguments.prompt == "default" ? analysis::default_representation_prompt(protocol.task(spec.task))
                                              : analysis::parse_representation_prompt(arguments.prompt);
  if (arguments.as_study) analysis::take_study_choices(spec);
  return spec;
}

// The options `pca` adds itself where its list names them (the rest: own_analysis_options).
void add_own_pca_options(CLI::App* command, PcaArguments& arguments, OwnOptions& own) {
  own["--langs"] = [command, &arguments] {
    command->add_option("--langs", arguments.languages,
                        "languages such as en,de,fr,hi, or all, scattered and compared by cosine (en and the study's "
                        "seven are always added for the correlations)")
        ->capture_default_str();
    command->add_option("--pairs", arguments.pairs,
                        "language pairs to correlate besides the study's, such as zh-ja,en-ru (languages are added)");
    command->add_option("--layers", arguments.layers, "all, or residual-stream indices such as 0,6,12")
        ->capture_default_str();
  };
  own["--prompt"] = [command, &arguments] {
    command->add_option("--prompt", arguments.prompt,
                        "study (2-shot, same-language answers), question or few-shot; default: study for emotion, "
                        "else question")
        ->capture_default_str();
  };
  own["--as-study"] = [command, &arguments] {
    command->add_flag("--as-study", arguments.as_study,
                      "the study's notebook: emotion, study prompt, mean pooling, all layers, every item in file "
                      "order, en,de,fr,hi,th,sw,ms, scatters of en,de,fr,hi (overrides those options)");
  };
}

}  // namespace

void add_pca_command(CLI::App& app) {
  auto arguments = std::make_shared<PcaArguments>();
  CLI::App* command = app.add_subcommand("pca", analysis::kRepresentationHelp);
  OwnOptions own = own_analysis_options(command, arguments->common, "(the same in every language)");
  add_own_pca_options(command, *arguments, own);
  add_listed_options(command, arguments->spec, own);
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
