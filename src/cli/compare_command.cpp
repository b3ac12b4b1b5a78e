// qtalign compare: accuracy before and after (e.g. base vs tuned), per language, with a chart.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "eval/compare.h"
#include "eval/results.h"

namespace qtalign::cli {
namespace {

struct CompareArguments {
  std::filesystem::path base;
  std::filesystem::path tuned;
  std::string seen;
  std::filesystem::path out;
};

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

void run_compare(const CompareArguments& arguments) {
  const eval::EvalResults base = eval::read_results(arguments.base);
  const eval::EvalResults tuned = eval::read_results(arguments.tuned);
  const eval::Comparison comparison = eval::compare_results(base, tuned, split_list(arguments.seen),
                                                            arguments.base.string(), arguments.tuned.string());
  for (const std::string& warning : comparison.warnings) std::fprintf(stderr, "qtalign: warning: %s\n", warning.c_str());
  const std::string markdown = eval::comparison_markdown(comparison);
  std::fputs(markdown.c_str(), stdout);
  if (arguments.out.empty()) return;
  const std::filesystem::path stem = arguments.out;
  const auto charts = eval::write_comparison(comparison, stem);
  std::fprintf(stderr, "wrote %s.md, %s.json", stem.c_str(), stem.c_str());
  for (const auto& chart : charts) std::fprintf(stderr, ", %s.png/.svg", chart.c_str());
  std::fprintf(stderr, "\n");
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto arguments = std::make_shared<CompareArguments>();
  CLI::App* command = app.add_subcommand(
      "compare", "Compare two eval results files (base, then tuned): per-language accuracy, deltas, averages");
  command->add_option("base", arguments->base, "results JSON before (e.g. the base model)")->required();
  command->add_option("tuned", arguments->tuned, "results JSON after (e.g. the tuned model)")->required();
  command->add_option("--seen", arguments->seen,
                      "tuning languages for seen/unseen averages (default: the one the results files record)");
  command->add_option("--out", arguments->out,
                      "also write <out>.md, <out>.json and a bar chart per task <out>_<task>.png/.svg");
  command->callback([arguments] { run_compare(*arguments); });
}

}  // namespace qtalign::cli
