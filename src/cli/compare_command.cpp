// qtalign compare: accuracy before and after (e.g. base vs tuned), per language, with a chart.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "eval/compare.h"

namespace qtalign::cli {
namespace {

void run_compare(const eval::CompareSpec& spec) {
  const eval::Comparison comparison = eval::compare_files(spec);
  for (const std::string& warning : comparison.warnings) std::fprintf(stderr, "qtalign: warning: %s\n", warning.c_str());
  std::fputs(eval::comparison_markdown(comparison).c_str(), stdout);
  if (spec.out.empty()) return;
  const auto charts = eval::write_comparison(comparison, spec.out);
  std::fprintf(stderr, "wrote %s.md, %s.json", spec.out.c_str(), spec.out.c_str());
  for (const auto& chart : charts) std::fprintf(stderr, ", %s.png/.svg", chart.c_str());
  std::fprintf(stderr, "\n");
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto spec = std::make_shared<eval::CompareSpec>();
  CLI::App* command = app.add_subcommand(
      "compare", "Compare two eval results files (base, then tuned): per-language accuracy, deltas, averages");
  add_listed_options(command, *spec);
  command->callback([spec] { run_compare(*spec); });
}

}  // namespace qtalign::cli
