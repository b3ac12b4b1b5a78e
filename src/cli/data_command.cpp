// qtalign data: build question-translation training sets, show assembled prompts, check the data.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/answer_type.h"
#include "data/data_check.h"
#include "data/data_dir.h"
#include "data/prompt_format.h"
#include "data/protocol.h"
#include "data/question_translation_build.h"
#include "data/task_items.h"
#include "io/json_file.h"

namespace qtalign::cli {
namespace {

struct BuildArguments {
  data::BuildOptions options;  // but the languages and the source, read with the protocol
  std::string languages;
  std::string source = "auto";
  std::filesystem::path out, split_out, data_dir, tasks_dir;
};

struct ShowArguments {
  std::string task;
  std::string language;
  size_t item = 0;
  data::AnswerType labels = data::AnswerType::english;
  bool question = false;
  bool json = false;
  std::filesystem::path data_dir, tasks_dir;
};

constexpr const char* kBuildDescription = R"(Build a question-translation training set (JSONL: input, target, language, index).

Each example: the task's question in language X (the test template without demonstrations and
without an answer) + "\nTranslate the input from <Language> to <Target>:\n" as input, the same
question in the target language (--target, English by default) as target. A model tuned on the set
has seen the sources and the target.

Sources (--source): 'shipped' = the study's sets (snli: de, es, it, sw, zh; index = item of
snli_en10k_train.json); 'test' = the parallel test sets (X and English, item by item; the only
non-English text for emotion, paws and the other snli languages); 'files' = --x-file and --target-file,
two parallel task files (one language); 'auto' = shipped where it exists (into English only), test
otherwise.
--size examples are split evenly over --langs (remainder to the first); each language's share is
drawn without replacement (seeded by --seed and the language), repeated targets dropped; 0 = all.

--exclude-test keeps evaluation items out. When a language draws from the test sets, the test
indices are split (stratified by label, seeded) into an evaluation part (--eval-fraction) and a
training part; only training indices are drawn, and the evaluation indices are written to
--split-out (default <out stem>.eval_split.json): evaluate on those items only. Otherwise every
test item is an evaluation item. Either way, examples whose English question equals an evaluation
item's are dropped.
)";

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

void run_show(const ShowArguments& arguments) {
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir), arguments.tasks_dir);
  const data::TaskProtocol& task = protocol.task(arguments.task);
  const data::TaskItem item = data::read_test_item(protocol, arguments.task, arguments.language, arguments.item);
  const std::string text =
      arguments.question
          ? data::question_text(task, arguments.language, item)
          : data::evaluation_prompt(task, arguments.language, item, arguments.labels);
  if (arguments.json) {
    const io::Json record = {{"task", arguments.task}, {"language", arguments.language}, {"index", item.index},
                             {arguments.question ? "question" : "prompt", text}, {"answer", item.answer},
                             {"label", item.label}};
    fmt::print("{}\n", record.dump(2, ' ', false, io::Json::error_handler_t::strict));
  } else {
    fmt::print("{}\n", text);
  }
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
  CLI::App* build = data->add_subcommand("build", kBuildDescription);
  build->add_option("--task", build_arguments->options.task, "emotion, snli, paws or a task file's name")->required();
  build->add_option("--langs", build_arguments->languages, "tuning languages, e.g. zh or zh,de")->required();
  build->add_option("--size", build_arguments->options.size, "examples in all (0 = all available)")->capture_default_str();
  build->add_option("--seed", build_arguments->options.seed, "seed of the draw and of the evaluation split")
      ->capture_default_str();
  build->add_option("--source", build_arguments->source, "auto, shipped, test or files")->capture_default_str();
  build->add_option("--x-file", build_arguments->options.file_x, "with --source files: the task file in X");
  build->add_option("--target", build_arguments->options.target, "language the questions are translated into")
      ->capture_default_str();
  build->add_option("--target-file,--en-file", build_arguments->options.file_target,
                    "with --source files: the same items in the target language");
  // Without --exclude-test no test items are held out, so --eval-fraction and --split-out would be ignored.
  CLI::Option* exclude_test =
      build->add_flag("--exclude-test", build_arguments->options.exclude_test, "keep evaluation items out (see above)");
  build->add_option("--eval-fraction", build_arguments->options.eval_fraction,
                    "share of test items kept for evaluation when drawing from test sets")
      ->capture_default_str()
      ->needs(exclude_test);
  build->add_option("--split-out", build_arguments->split_out, "where to write the evaluation split")
      ->needs(exclude_test);
  build->add_option("--out", build_arguments->out, "output JSONL file")->required();
  add_data_dir_option(build, build_arguments->data_dir);
  add_tasks_dir_option(build, build_arguments->tasks_dir);
  build->callback([build_arguments] { run_build(*build_arguments); });

  auto show_arguments = std::make_shared<ShowArguments>();
  CLI::App* show = data->add_subcommand("show", "Print the evaluation prompt (or question) of one test item");
  show->add_option("--task", show_arguments->task, "emotion, snli, paws or a task file's name")->required();
  show->add_option("--lang", show_arguments->language, "language code")->required();
  show->add_option("--item", show_arguments->item, "item index, from 0")->capture_default_str();
  add_parsed_option(show, "--labels", show_arguments->labels, data::parse_answer_type, data::answer_type_name,
                    "how answers are written: english, same-language (the lens demonstrations) or task-agnostic");
  show->add_flag("--question", show_arguments->question, "print the question-translation question instead");
  show->add_flag("--json", show_arguments->json, "print JSON with the answer and English label");
  add_data_dir_option(show, show_arguments->data_dir);
  add_tasks_dir_option(show, show_arguments->tasks_dir);
  show->callback([show_arguments] { run_show(*show_arguments); });

  auto check_data_dir = std::make_shared<std::filesystem::path>();
  CLI::App* check = data->add_subcommand("check", "Validate prompts.json and every data file it names");
  add_data_dir_option(check, *check_data_dir);
  check->callback([check_data_dir] { run_check(*check_data_dir); });
}

}  // namespace qtalign::cli
