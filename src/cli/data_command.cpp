// qtalign data: build question-translation training sets, show assembled prompts, check the data.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/data_check.h"
#include "data/data_dir.h"
#include "data/item_show.h"
#include "data/protocol.h"
#include "data/question_translation_build.h"

namespace qtalign::cli {
namespace {

struct BuildArguments {
  data::BuildOptions options;  // but the languages and the source, read with the protocol
  std::string languages;
  std::string source = "auto";
  std::filesystem::path out, split_out, data_dir, tasks_dir;
};

void run_build(const BuildArguments& arguments) {
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir), arguments.tasks_dir);
  data::BuildOptions options = arguments.options;
  options.languages = data::parse_language_list(protocol, arguments.languages);
  options.source = data::parse_question_source(arguments.source);
  const data::BuildResult result = data::build_question_translation_set(protocol, options);
  const std::filesystem::path split_out =
      arguments.split_out.empty() ? data::default_split_file(arguments.out) : arguments.split_out;
  data::write_question_translation_set(result, arguments.out, split_out);
  for (const auto& [language, report] : result.languages)
    fmt::print("{}: {} drawn of {} available ({} evaluation items excluded) from {}\n", language, report.drawn,
               report.available, report.excluded, report.source);
  if (result.evaluation_split) {
    fmt::print("evaluation items: {} of {} test items, written to {}\n",
               result.evaluation_split->evaluation_indices.size(), result.evaluation_split->test_count,
               split_out.string());
  } else if (std::any_of(result.languages.begin(), result.languages.end(), [](const auto& entry) {
               return entry.second.source_kind == data::QuestionSource::test_sets;
             })) {
    std::fprintf(stderr, "qtalign: note: examples come from the test sets without --exclude-test; "
                         "evaluating on those test sets afterwards is contaminated\n");
  }
  fmt::print("wrote {} examples (into {}) to {}\n", result.examples.size(),
             protocol.question_translation.language_name(result.target), arguments.out.string());
}

void run_check(const std::filesystem::path& data_dir) {
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(data_dir));
  const data::DataCheck check = data::check_data_files(protocol);
  fmt::print("{}: {} files, {} items, all valid; test sets parallel to English\n", protocol.data_dir.string(),
             check.files, check.items);
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Question-translation data and the benchmark's prompts");
  data->require_subcommand(1);

  auto build_arguments = std::make_shared<BuildArguments>();
  CLI::App* build = data->add_subcommand("build", data::kQuestionTranslationBuildHelp);
  add_listed_options(
      build, build_arguments->options,
      {{"--langs",
        [build, build_arguments] {
          build->add_option("--langs", build_arguments->languages, "tuning languages, e.g. zh or zh,de")->required();
        }},
       {"--source",
        [build, build_arguments] {
          build->add_option("--source", build_arguments->source, "auto, shipped, test or files")->capture_default_str();
        }},
       {"--split-out",
        [build, build_arguments] {
          build->add_option("--split-out", build_arguments->split_out, "where to write the evaluation split")
              ->needs("--exclude-test");
        }}});
  build->add_option("--out", build_arguments->out, "output JSONL file")->required();
  add_data_dir_option(build, build_arguments->data_dir);
  add_tasks_dir_option(build, build_arguments->tasks_dir);
  build->callback([build_arguments] { run_build(*build_arguments); });

  auto show_spec = std::make_shared<data::ItemShowSpec>();
  CLI::App* show = data->add_subcommand("show", "Print the evaluation prompt (or question) of one test item");
  add_listed_options(show, *show_spec);
  show->callback([show_spec] { fmt::print("{}\n", data::show_item(*show_spec)); });

  auto check_data_dir = std::make_shared<std::filesystem::path>();
  CLI::App* check = data->add_subcommand("check", "Validate prompts.json and every data file it names");
  add_data_dir_option(check, *check_data_dir);
  check->callback([check_data_dir] { run_check(*check_data_dir); });
}

}  // namespace qtalign::cli
