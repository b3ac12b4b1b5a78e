// qtalign eval: its options read into an eval::EvaluationSpec, the run (eval/evaluation_run.h), the table on stdout.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "eval/results.h"
#include "io/interruption.h"

namespace qtalign::cli {
namespace {

struct EvalArguments {
  eval::EvaluationSpec spec;  // but the item limit, from `items`, and the compute settings, from `runtime`
  ItemLimitOptions items;
  std::string format = "table";
  double dist_timeout = 300.0;
  model::ComputeRequest runtime;
};

// The evaluation the options ask for, computed on `device`.
eval::EvaluationSpec evaluation_spec(const EvalArguments& arguments, at::Device device) {
  eval::EvaluationSpec spec = arguments.spec;
  spec.limit = item_limit(arguments.items, spec.seed);
  spec.compute = model::compute_settings(arguments.runtime, device);
  return spec;
}

void run_eval(const EvalArguments& arguments) {
  const eval::TableFormat format = eval::parse_table_format(arguments.format);
  const model::ProcessRuntime processes = model::join_processes(arguments.runtime, arguments.dist_timeout);
  const eval::EvaluationSpec spec = evaluation_spec(arguments, processes.device);
  const eval::EvaluationResult result = eval::run(spec, *processes.group, io::set_interrupt_hint);
  if (!processes.group->is_main()) return;
  if (result.complete)
    std::fputs(eval::format_results(*result.results, format).c_str(), stdout);
  else
    std::fputs(eval::stopped_note(spec, result).c_str(), stderr);
}

// Adds the subcommand "eval" with its options (eval::for_each_option), bound to `arguments`, to `app`.
CLI::App* add_eval_options(CLI::App& app, EvalArguments& arguments) {
  CLI::App* command = app.add_subcommand("eval", "Few-shot accuracy with constrained decoding over tasks and languages");
  command->footer(eval::kEvaluationHelp);
  add_listed_options(command, arguments.spec,
                     {{"--limit", [&] { add_item_limit_options(command, arguments.items, "per language"); }},
                      {"--format",
                       [&] {
                         command->add_option("--format", arguments.format, "table on stdout: table, md or csv")
                             ->capture_default_str();
                       }},
                      {"--dist-timeout", [&] { add_dist_timeout_option(command, arguments.dist_timeout); }},
                      {"--threads", [&] { add_runtime_options(command, arguments.runtime); }}});
  return command;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto arguments = std::make_shared<EvalArguments>();
  add_eval_options(app, *arguments)->callback([arguments] { run_eval(*arguments); });
}

eval::EvaluationSpec parse_eval_spec(const std::vector<std::string>& arguments) {
  CLI::App app{"qtalign"};
  EvalArguments parsed;
  add_eval_options(app, parsed);
  parse_command_words(app, arguments);
  return evaluation_spec(parsed, model::parse_device(parsed.runtime.device));
}

}  // namespace qtalign::cli
