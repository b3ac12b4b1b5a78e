#include "model/cpu_dispatch.h"

#include <fmt/format.h>

#include <atomic>

#include "io/error.h"

namespace qtalign::model {
namespace {

InstructionSet detect_instruction_set() {
#if QTALIGN_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return InstructionSet::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return InstructionSet::avx2;
#endif
  return InstructionSet::baseline;
}

// Read on every dispatched call: a relaxed load, next to kernels that each cover many values.
std::atomic<InstructionSet>& active() {
  static std::atomic<InstructionSet> set{supported_instruction_set()};
  return set;
}

}  // namespace

const char* instruction_set_name(InstructionSet set) {
  switch (set) {
    case InstructionSet::avx512: return "avx512";
    case InstructionSet::avx2: return "avx2";
    default: return "baseline";
  }
}

InstructionSet supported_instruction_set() {
  static const InstructionSet supported = detect_instruction_set();
  return supported;
}

InstructionSet active_instruction_set() { return active().load(std::memory_order_relaxed); }

ForcedInstructionSet::ForcedInstructionSet(InstructionSet set) : previous_(active_instruction_set()) {
  if (set > supported_instruction_set())
    throw Error(fmt::format("cannot force instruction set {}: this CPU supports up to {}", instruction_set_name(set),
                            instruction_set_name(supported_instruction_set())));
  active().store(set);
}

ForcedInstructionSet::~ForcedInstructionSet() { active().store(previous_); }

}  // namespace qtalign::model
