// qtalign data: build question-translation training sets, show assembled prompts, check the data.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/answer_type.h"
#include "data/data_dir.h"
#include "data/prompt_format.h"
#include "data/protocol.h"
#include "data/question_translation.h"
#include "data/question_translation_build.h"
#include "data/task_items.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::cli {
namespace {

struct BuildArguments {
  std::string task;
  std::string languages;
  std::string target = "en";
  size_t size = 10000;
  uint64_t seed = 0;
  std::string source = "auto";
  std::filesystem::path file_x, file_target;
  bool exclude_test = false;
  double eval_fraction = 0.5;
  std::filesystem::path out, split_out, data_dir, tasks_dir;
};

struct ShowArguments {
  std::string task;
  std::string language;
  size_t item = 0;
  std::string labels = "english";
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
  data::BuildOptions options;
  options.task = arguments.task;
  options.languages = data::parse_language_list(protocol, arguments.languages);
  options.target = arguments.target;
  options.size = arguments.size;
  options.seed = arguments.seed;
  options.source = data::parse_question_source(arguments.source);
  options.file_x = arguments.file_x;
  options.file_target = arguments.file_target;
  options.exclude_test = arguments.exclude_test;
  options.eval_fraction = arguments.eval_fraction;
  if ((!options.file_x.empty() || !options.file_target.empty()) && options.source != data::QuestionSource::files)
    throw Error("--x-file and --target-file go with --source files");

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
  task.language(arguments.language);
  const std::vector<data::TaskItem> items = data::read_test_set(protocol, arguments.task, arguments.language);
  if (arguments.item >= items.size())
    fail_at(protocol.test_set_path(arguments.task, arguments.language),
            fmt::format("no item {} (it has {} items, numbered from 0)", arguments.item, items.size()));
  const data::TaskItem& item = items[arguments.item];
  const std::string text =
      arguments.question
          ? data::question_text(task, arguments.language, item)
          : data::evaluation_prompt(task, arguments.language, item, data::parse_answer_type(arguments.labels));
  if (arguments.json) {
    const io::Json record = {{"task", arguments.task}, {"language", arguments.language}, {"index", item.index},
                             {arguments.question ? "question" : "prompt", text}, {"answer", item.answer},
                             {"label", item.label}};
    fmt::print("{}\n", record.dump(2, ' ', false, io::Json::error_handler_t::strict));
  } else {
    fmt::print("{}\n", text);
  }
}

// Reads every file the protocol names and checks the test sets are parallel to English (by label).
void run_check(const std::filesystem::path& data_dir) {
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(data_dir));
  size_t files = 0, items = 0;
  for (const auto& task_name : protocol.study_task_names()) {
    const std::vector<data::TaskItem> english = data::read_test_set(protocol, task_name, "en");
    for (const auto& language : protocol.languages) {
      const std::vector<data::TaskItem> translated = data::read_test_set(protocol, task_name, language);
      if (translated.size() != english.size())
        fail_at(protocol.test_set_path(task_name, language),
                fmt::format("{} items, the English set has {}", translated.size(), english.size()));
      for (size_t i = 0; i < english.size(); ++i)
        if (translated[i].label != english[i].label)
          fail_at(protocol.test_set_path(task_name, language),
                  fmt::format("item {} is '{}' but the English item is '{}'", i, translated[i].label, english[i].label));
      ++files;
      items += translated.size();
    }
    const auto shipped = protocol.question_translation.shipped_sets.find(task_name);
    if (shipped == protocol.question_translation.shipped_sets.end()) continue;
    for (const auto& entry : shipped->second) {
      items += data::read_shipped_set(protocol, task_name, entry.first).size();
      ++files;
    }
  }
  fmt::print("{}: {} files, {} items, all valid; test sets parallel to English\n", protocol.data_dir.string(), files,
             items);
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Question-translation data and the benchmark's prompts");
  data->require_subcommand(1);

  auto build_arguments = std::make_shared<BuildArguments>();
  CLI::App* build = data->add_subcommand("build", kBuildDescription);
  build->add_option("--task", build_arguments->task, "emotion, snli, paws or a task file's name")->required();
  build->add_option("--langs", build_arguments->languages, "tuning languages, e.g. zh or zh,de")->required();
  build->add_option("--size", build_arguments->size, "examples in all (0 = all available)")->capture_default_str();
  build->add_option("--seed", build_arguments->seed, "seed of the draw and of the evaluation split")
      ->capture_default_str();
  build->add_option("--source", build_arguments->source, "auto, shipped, test or files")->capture_default_str();
  build->add_option("--x-file", build_arguments->file_x, "with --source files: the task file in X");
  build->add_option("--target", build_arguments->target, "language the questions are translated into")
      ->capture_default_str();
  build->add_option("--target-file,--en-file", build_arguments->file_target,
                    "with --source files: the same items in the target language");
  // Without --exclude-test no test items are held out, so --eval-fraction and --split-out would be ignored.
  CLI::Option* exclude_test =
      build->add_flag("--exclude-test", build_arguments->exclude_test, "keep evaluation items out (see above)");
  build->add_option("--eval-fraction", build_arguments->eval_fraction,
                    "share of test items kept for evaluation when drawing from test sets")
      ->capture_default_str()
      ->needs(exclude_test);
  build->add_option("--split-out", build_arguments->split_out, "where to write the evaluation split")
      ->needs(exclude_test);
  build->add_option("--out", build_arguments->out, "output JSONL file")->required();
  build->add_option("--data-dir", build_arguments->data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_tasks_dir_option(build, build_arguments->tasks_dir);
  build->callback([build_arguments] { run_build(*build_arguments); });

  auto show_arguments = std::make_shared<ShowArguments>();
  CLI::App* show = data->add_subcommand("show", "Print the evaluation prompt (or question) of one test item");
  show->add_option("--task", show_arguments->task, "emotion, snli, paws or a task file's name")->required();
  show->add_option("--lang", show_arguments->language, "language code")->required();
  show->add_option("--item", show_arguments->item, "item index, from 0")->capture_default_str();
  show->add_option("--labels", show_arguments->labels,
                   "how answers are written: english, same-language (the lens demonstrations) or task-agnostic")
      ->capture_default_str();
  show->add_flag("--question", show_arguments->question, "print the question-translation question instead");
  show->add_flag("--json", show_arguments->json, "print JSON with the answer and English label");
  show->add_option("--data-dir", show_arguments->data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_tasks_dir_option(show, show_arguments->tasks_dir);
  show->callback([show_arguments] { run_show(*show_arguments); });

  auto check_data_dir = std::make_shared<std::filesystem::path>();
  CLI::App* check = data->add_subcommand("check", "Validate prompts.json and every data file it names");
  check->add_option("--data-dir", *check_data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  check->callback([check_data_dir] { run_check(*check_data_dir); });
}

}  // namespace qtalign::cli
