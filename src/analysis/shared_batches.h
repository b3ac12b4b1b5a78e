#pragma once
// The forward passes of an analysis shared over a process group: the batches of every prompt list (a
// language's prompts), as model::make_prompt_batches makes them for one process, are the units of
// distributed::run_shared_work, each costed by its padded tokens, so rank 0 receives exactly the
// batches one process would have run.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "model/prompt_batches.h"

namespace qtalign::analysis {

// Runs work(list, batch) for this rank's batches of prompts[list] (none for an empty list) and calls
// on_result(list, batch index, batch, result) on rank 0 for every batch, after each round in unit
// order. A progress line per rank, `label` (with the rank when there are several), counts its
// prompts, with names[list] beside it. Collective failures (a rank died or stalled) throw Error
// naming the rank.
void run_shared_batches(
    distributed::ProcessGroup& group, const std::vector<std::vector<std::vector<int64_t>>>& prompts,
    const std::vector<std::string>& names, int64_t batch_size, const std::string& label,
    const std::function<std::string(size_t, const model::PromptBatch&)>& work,
    const std::function<void(size_t, size_t, const model::PromptBatch&, const std::string&)>& on_result);

}  // namespace qtalign::analysis
