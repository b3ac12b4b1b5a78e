// qtalign lens: the logit lens per layer and language, with bootstrap intervals, CSV/JSON and charts.
#include <memory>

#include "analysis/lens_pipeline.h"
#include "cli/analysis_options.h"
#include "cli/commands.h"

namespace qtalign::cli {
namespace {

struct LensArguments {
  AnalysisArguments common;
  analysis::LensSpec spec;  // but what `common` and `languages` fill in
  std::string languages = "all";
};

// The spec the arguments ask for, checked before the model loads.
analysis::LensSpec lens_spec(const LensArguments& arguments, const data::Protocol& protocol) {
  analysis::LensSpec spec = arguments.spec;
  spec.task = protocol.task(spec.task).name;
  // "all" resolved now: a task without lens prompts fails before the model loads.
  spec.languages = arguments.languages == "all" ? analysis::lens_languages(protocol, spec.task)
                                                : data::parse_language_list(protocol, arguments.languages);
  fill_analysis_spec(spec, arguments.common);
  analysis::check_lens_spec(spec);
  return spec;
}

}  // namespace

void add_lens_command(CLI::App& app) {
  auto arguments = std::make_shared<LensArguments>();
  CLI::App* command = app.add_subcommand("lens", analysis::kLensHelp);
  OwnOptions own = own_analysis_options(command, arguments->common, "per language");
  own["--langs"] = [command, arguments] {
    command->add_option("--langs", arguments->languages,
                        "languages such as zh,ja,ru, or all (every language with same-language labels)")
        ->capture_default_str();
  };
  add_listed_options(command, arguments->spec, own);
  command->callback([arguments] {
    run_analysis_command(
        arguments->common, [&](const data::Protocol& protocol) { return lens_spec(*arguments, protocol); },
        analysis::run_lens_analysis);
  });
}

}  // namespace qtalign::cli
