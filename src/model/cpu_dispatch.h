#pragma once
// Kernels compiled for several x86 instruction sets in one binary and run as the best the CPU has: the
// project builds for baseline x86-64, where the compiler vectorizes with SSE2 only. A function carries
// QTALIGN_TARGET_AVX512 or QTALIGN_TARGET_AVX2 to be compiled for that set, and runs only where
// active_instruction_set() reaches it.
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#define QTALIGN_X86_DISPATCH 1
#define QTALIGN_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define QTALIGN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define QTALIGN_X86_DISPATCH 0
#define QTALIGN_TARGET_AVX512
#define QTALIGN_TARGET_AVX2
#endif

namespace qtalign::model {

// Ascending: each set's kernels may use all the sets below it. avx512 means AVX-512 F, BW, VL and DQ.
enum class InstructionSet : int8_t { baseline, avx2, avx512 };

// "baseline", "avx2" or "avx512".
const char* instruction_set_name(InstructionSet set);

// The best set this CPU supports (baseline off x86-64).
InstructionSet supported_instruction_set();

// The set the dispatched kernels run with: supported_instruction_set(), unless lowered by a
// ForcedInstructionSet in scope.
InstructionSet active_instruction_set();

// Makes the kernels run with `set` while it lives, so tests reach every kernel this CPU can run. Throws
// Error for a set above supported_instruction_set(). Not for concurrent use: one at a time, process-wide.
class ForcedInstructionSet {
 public:
  explicit ForcedInstructionSet(InstructionSet set);
  ~ForcedInstructionSet();
  ForcedInstructionSet(const ForcedInstructionSet&) = delete;
  ForcedInstructionSet& operator=(const ForcedInstructionSet&) = delete;

 private:
  InstructionSet previous_;
};

// Defines NAME<T>(PARAMETERS), which runs KERNEL<T>(ARGUMENTS) compiled for the active instruction set
// (three copies of the kernel, one per set).
#define QTALIGN_DISPATCHED(NAME, KERNEL, PARAMETERS, ARGUMENTS)                                    \
  template <typename T>                                                                            \
  QTALIGN_TARGET_AVX512 void NAME##_avx512 PARAMETERS { KERNEL<T> ARGUMENTS; }                     \
  template <typename T>                                                                            \
  QTALIGN_TARGET_AVX2 void NAME##_avx2 PARAMETERS { KERNEL<T> ARGUMENTS; }                         \
  template <typename T>                                                                            \
  void NAME##_baseline PARAMETERS { KERNEL<T> ARGUMENTS; }                                         \
  template <typename T>                                                                            \
  void NAME PARAMETERS {                                                                           \
    const InstructionSet instructions = active_instruction_set();                                  \
    if (instructions == InstructionSet::avx512) NAME##_avx512<T> ARGUMENTS;                        \
    else if (instructions == InstructionSet::avx2) NAME##_avx2<T> ARGUMENTS;                       \
    else NAME##_baseline<T> ARGUMENTS;                                                             \
  }

}  // namespace qtalign::model
