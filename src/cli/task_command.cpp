// qtalign task check|new|export: write, validate and inspect task files (src/data/task_file.h).
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/data_dir.h"
#include "data/task_check.h"
#include "data/task_file.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::cli {
namespace {

struct CheckArguments {
  std::filesystem::path file, tokenizer;
};

struct NewArguments {
  std::filesystem::path items, out;
  std::string answer = "answer", language = "en";
};

struct ExportArguments {
  std::string task;
  std::filesystem::path out, data_dir;
};

void run_check(const CheckArguments& arguments) {
  std::optional<tokenizer::Tokenizer> tokenizer;
  if (!arguments.tokenizer.empty())
    tokenizer.emplace(tokenizer::Tokenizer::from_file(tokenizer::tokenizer_json_file(arguments.tokenizer)));
  fmt::print("{}", data::format_task_check(data::check_task_file(arguments.file, tokenizer ? &*tokenizer : nullptr)));
}

void run_new(const NewArguments& arguments) {
  if (std::filesystem::exists(arguments.out)) fail_at(arguments.out, "exists already; task new does not overwrite");
  io::write_file_atomically(arguments.out, data::new_task_file(arguments.items, arguments.answer, arguments.language));
  fmt::print("wrote {}: edit it, then run qtalign task check {}\n", arguments.out.string(), arguments.out.string());
}

void run_export(const ExportArguments& arguments) {
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir));
  io::write_json_file(arguments.out, data::study_task_file(protocol, arguments.task));
  fmt::print("wrote {}: the study's {} task as a task file\n", arguments.out.string(), arguments.task);
}

}  // namespace

void add_task_command(CLI::App& app) {
  CLI::App* task = app.add_subcommand("task", "Your own tasks: write, check and export task files");
  task->require_subcommand(1);

  auto check_arguments = std::make_shared<CheckArguments>();
  CLI::App* check = task->add_subcommand(
      "check", "Validate a task file and all its items; print languages, label balance and a prompt per language");
  check->add_option("file", check_arguments->file, "the task file")->required();
  check->add_option("--tokenizer", check_arguments->tokenizer,
                    "tokenizer.json (or a checkpoint directory) to count prompt tokens with");
  check->callback([check_arguments] { run_check(*check_arguments); });

  auto new_arguments = std::make_shared<NewArguments>();
  CLI::App* create = task->add_subcommand("new", "Write a commented starting task file from a JSONL file's fields");
  create->add_option("items", new_arguments->items, "a JSONL (or JSON array) file of items")->required();
  create->add_option("--answer", new_arguments->answer, "the field holding each item's answer")->capture_default_str();
  create->add_option("--lang", new_arguments->language, "the items' language code")->capture_default_str();
  create->add_option("--out", new_arguments->out, "the task file to write (*.json)")->required();
  create->callback([new_arguments] { run_new(*new_arguments); });

  auto export_arguments = std::make_shared<ExportArguments>();
  CLI::App* exported = task->add_subcommand("export", "Write one of the study's tasks (prompts.json) as a task file");
  exported->add_option("--task", export_arguments->task, "emotion, snli or paws")->required();
  exported->add_option("--out", export_arguments->out, "the task file to write")->required();
  add_data_dir_option(exported, export_arguments->data_dir);
  exported->callback([export_arguments] { run_export(*export_arguments); });
}

}  // namespace qtalign::cli
