#pragma once
// Where a benchmark's time goes: self CPU time and calls per operator from libtorch's autograd
// profiler (legacy, the one libtorch 1.13 and later both have).
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace qtalign::bench {

// Self CPU microseconds and calls, per operator name.
using OperatorTimes = std::map<std::string, std::pair<double, int64_t>>;

// Self CPU time (microseconds) and calls per operator: each range's time less its nested ranges'.
inline OperatorTimes self_times(const torch::autograd::profiler::thread_event_lists& lists) {
  OperatorTimes times;
  for (const auto& events : lists) {
    std::vector<std::pair<const torch::autograd::profiler::LegacyEvent*, double>> open;  // range, nested time
    for (const auto& event : events) {
      if (event.kind() == torch::autograd::profiler::EventKind::PushRange) {
        open.emplace_back(&event, 0.0);
      } else if (event.kind() == torch::autograd::profiler::EventKind::PopRange && !open.empty()) {
        const auto [start, nested] = open.back();
        open.pop_back();
        const double total = start->cpuElapsedUs(event);
        auto& entry = times[start->name()];
        entry.first += total - nested;
        entry.second += 1;
        if (!open.empty()) open.back().second += total;
      }
    }
  }
  return times;
}

// Prints the 16 operators with the most self time as a Markdown table, per `unit` (`units` of them ran).
inline void print_profile(const OperatorTimes& times, int64_t units, const std::string& unit) {
  std::vector<std::pair<double, std::string>> order;
  double all = 0.0;
  for (const auto& [name, entry] : times) {
    order.emplace_back(entry.first, name);
    all += entry.first;
  }
  std::sort(order.rbegin(), order.rend());
  std::printf("\n| operator | calls per %s | self ms per %s | share |\n|---|---:|---:|---:|\n", unit.c_str(), unit.c_str());
  double shown = 0.0;
  for (size_t i = 0; i < order.size() && i < 16; ++i) {
    const auto& [micros, name] = order[i];
    shown += micros;
    std::printf("| %s | %.0f | %.1f | %.1f%% |\n", name.c_str(), double(times.at(name).second) / double(units),
                micros / 1000.0 / double(units), 100.0 * micros / all);
  }
  std::printf("| (all others) | | %.1f | %.1f%% |\n\n", (all - shown) / 1000.0 / double(units),
              100.0 * (all - shown) / all);
}

// Starts recording every operator this process runs on the CPU.
inline void start_profile() {
  torch::autograd::profiler::enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
}

// Stops recording and returns each operator's self time.
inline OperatorTimes stop_profile() { return self_times(torch::autograd::profiler::disableProfilerLegacy()); }

}  // namespace qtalign::bench
