#include "analysis/shared_batches.h"

#include <fmt/format.h>

#include <utility>

#include "distributed/shared_work.h"
#include "io/progress.h"

namespace qtalign::analysis {

void run_shared_batches(
    distributed::ProcessGroup& group, const std::vector<std::vector<std::vector<int64_t>>>& prompts,
    const std::vector<std::string>& names, int64_t batch_size, const std::string& label,
    const std::function<std::string(size_t, const model::PromptBatch&)>& work,
    const std::function<void(size_t, size_t, const model::PromptBatch&, const std::string&)>& on_result) {
  std::vector<std::vector<model::PromptBatch>> batches(prompts.size());
  std::vector<std::pair<size_t, size_t>> units;  // (list, batch)
  std::vector<int64_t> costs;
  for (size_t list = 0; list < prompts.size(); ++list) {
    if (prompts[list].empty()) continue;
    batches[list] = model::make_prompt_batches(prompts[list], batch_size);
    for (size_t batch = 0; batch < batches[list].size(); ++batch) {
      units.emplace_back(list, batch);
      costs.push_back(batches[list][batch].input_ids.numel());
    }
  }
  const std::vector<int> owner = distributed::assign_units(costs, group.world_size());
  int64_t share = 0;
  for (size_t unit = 0; unit < units.size(); ++unit)
    if (owner[unit] == group.rank())
      share += static_cast<int64_t>(batches[units[unit].first][units[unit].second].prompt_indices.size());
  io::Progress progress((group.world_size() > 1 ? fmt::format("[rank {}] ", group.rank()) : std::string()) + label,
                        share, "prompts");
  distributed::run_shared_work(
      group, costs,
      [&](size_t unit) {
        const auto [list, batch] = units[unit];
        std::string result = work(list, batches[list][batch]);
        progress.advance(static_cast<int64_t>(batches[list][batch].prompt_indices.size()), names.at(list));
        return result;
      },
      [&](size_t unit, const std::string& result) {
        if (!group.is_main()) return;
        const auto [list, batch] = units[unit];
        on_result(list, batch, batches[list][batch], result);
      });
  progress.finish();
}

}  // namespace qtalign::analysis
