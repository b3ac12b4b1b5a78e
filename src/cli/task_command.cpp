// qtalign task check|new|export: write, validate and inspect task files (src/data/task_file.h).
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/task_check.h"

namespace qtalign::cli {

void add_task_command(CLI::App& app) {
  CLI::App* task = app.add_subcommand("task", "Your own tasks: write, check and export task files");
  task->require_subcommand(1);

  auto check_spec = std::make_shared<data::TaskCheckSpec>();
  CLI::App* check = task->add_subcommand(
      "check", "Validate a task file and all its items; print languages, label balance and a prompt per language");
  add_listed_options(check, *check_spec);
  check->callback([check_spec] { fmt::print("{}", data::check_task(*check_spec)); });

  auto new_spec = std::make_shared<data::NewTaskSpec>();
  CLI::App* create = task->add_subcommand("new", "Write a commented starting task file from a JSONL file's fields");
  add_listed_options(create, *new_spec);
  create->callback([new_spec] {
    data::write_new_task(*new_spec);
    fmt::print("wrote {}: edit it, then run qtalign task check {}\n", new_spec->out.string(), new_spec->out.string());
  });

  auto export_spec = std::make_shared<data::TaskExportSpec>();
  CLI::App* exported = task->add_subcommand("export", "Write one of the study's tasks (prompts.json) as a task file");
  add_listed_options(exported, *export_spec);
  exported->callback([export_spec] {
    data::export_study_task(*export_spec);
    fmt::print("wrote {}: the study's {} task as a task file\n", export_spec->out.string(), export_spec->task);
  });
}

}  // namespace qtalign::cli
