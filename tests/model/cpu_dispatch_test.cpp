// Forcing the instruction set the dispatched kernels run with: lower sets take effect while forced and
// the previous one returns after; a set the CPU lacks is refused.
#include "model/cpu_dispatch.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::model {
namespace {

TEST(CpuDispatch, ForcesLowerSetsAndRestoresThePreviousOne) {
  const InstructionSet supported = supported_instruction_set();
  EXPECT_EQ(active_instruction_set(), supported);
  {
    const ForcedInstructionSet baseline(InstructionSet::baseline);
    EXPECT_EQ(active_instruction_set(), InstructionSet::baseline);
    {
      const ForcedInstructionSet again(supported);
      EXPECT_EQ(active_instruction_set(), supported);
    }
    EXPECT_EQ(active_instruction_set(), InstructionSet::baseline);
  }
  EXPECT_EQ(active_instruction_set(), supported);
  if (supported != InstructionSet::avx512) EXPECT_THROW(ForcedInstructionSet{InstructionSet::avx512}, Error);
}

}  // namespace
}  // namespace qtalign::model
