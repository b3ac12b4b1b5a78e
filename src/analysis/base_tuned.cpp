#include "analysis/base_tuned.h"

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

}  // namespace qtalign::analysis
