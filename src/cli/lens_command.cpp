// qtalign lens: the logit lens per layer and language, with bootstrap intervals, CSV/JSON and charts.
#include <memory>

#include "analysis/lens_pipeline.h"
#include "cli/analysis_options.h"
#include "cli/commands.h"
#include "data/answer_type.h"

namespace qtalign::cli {
namespace {

struct LensArguments {
  AnalysisArguments common;
  analysis::LensSpec spec;  // but what `common` and the fields below fill in
  std::string languages = "all";
};

constexpr const char* kDescription = R"(Logit lens, as the study ran it.

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

// The spec the arguments ask for, checked before the model loads.
analysis::LensSpec lens_spec(const LensArguments& arguments, const data::Protocol& protocol) {
  analysis::LensSpec spec = arguments.spec;
  spec.task = protocol.task(arguments.common.task).name;
  // "all" resolved now: a task without lens prompts fails before the model loads.
  spec.languages = arguments.languages == "all" ? analysis::lens_languages(protocol, spec.task)
                                                : data::parse_language_list(protocol, arguments.languages);
  fill_analysis_spec(spec, arguments.common);
  spec.bootstrap.seed = arguments.common.seed;
  analysis::check_lens_spec(spec);
  return spec;
}

}  // namespace

void add_lens_command(CLI::App& app) {
  auto arguments = std::make_shared<LensArguments>();
  CLI::App* command = app.add_subcommand("lens", kDescription);
  add_analysis_model_options(command, arguments->common,
                             "a second adapter (e.g. the tuned one): run base and tuned and compare them");
  command->add_option("--task", arguments->common.task, "task with lens prompts (emotion)")->capture_default_str();
  command->add_option("--langs", arguments->languages,
                      "languages such as zh,ja,ru, or all (every language with same-language labels)")
      ->capture_default_str();
  add_parsed_option(command, "--labels", arguments->spec.answer_type, data::parse_answer_type, data::answer_type_name,
                    "how the demonstrations answer: same-language (the study's lens) or english");
  command->add_flag("--thai-forced-prefix", arguments->spec.forced_prefix,
                    "end Thai prompts with the answers' shared start เชิง and read the remainders (the study's "
                    "evaluation script); default: the opening quote and the whole words (the study's lens script)");
  command->add_option("--top-k", arguments->spec.top_k,
                      "top tokens recorded per layer (capped at the vocabulary's size)")->capture_default_str();
  command->add_option("--resamples", arguments->spec.bootstrap.resamples, "bootstrap resamples")->capture_default_str();
  command->add_option("--confidence", arguments->spec.bootstrap.confidence, "confidence level of the intervals")
      ->capture_default_str();
  command->add_flag("--resume", arguments->spec.resume, "keep languages whose <lang>.json is already in --out");
  add_analysis_run_options(command, arguments->common, "per language");
  command->callback([arguments] {
    run_analysis_command(
        arguments->common, [&](const data::Protocol& protocol) { return lens_spec(*arguments, protocol); },
        analysis::run_lens_analysis);
  });
}

}  // namespace qtalign::cli
