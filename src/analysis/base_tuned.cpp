#include "analysis/base_tuned.h"

#include "io/error.h"
#include "io/output_lock.h"

namespace qtalign::analysis {

std::filesystem::path variant_directory(const std::filesystem::path& out, const std::string& variant) {
  return variant.empty() ? out : out / variant;
}

void run_base_and_tuned(model::LoadedModel* loaded, const std::filesystem::path& tuned_adapter,
                        const std::vector<VariantAnalysis>& analyses) {
  for (const VariantAnalysis& analysis : analyses) analysis.run("base");
  if (loaded) model::use_adapter(*loaded, tuned_adapter);
  for (const VariantAnalysis& analysis : analyses) analysis.run("tuned");
  for (const VariantAnalysis& analysis : analyses) analysis.compare();
}

void check_analysis_run(int64_t batch_size, const std::filesystem::path& compare_adapter,
                        const std::filesystem::path& out) {
  if (batch_size < 1) throw Error("--batch-size must be at least 1");
  if (!compare_adapter.empty() && !std::filesystem::is_regular_file(compare_adapter / "adapter_config.json"))
    fail_at(compare_adapter, "is not an adapter directory (no adapter_config.json)");
  io::check_output_directory(out);
}

}  // namespace qtalign::analysis
