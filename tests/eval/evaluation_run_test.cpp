// What an evaluation run that stopped early tells the user (eval/evaluation_run.h).
#include "eval/evaluation_run.h"

#include <gtest/gtest.h>

namespace qtalign::eval {
namespace {

TEST(StoppedNote, NamesTheLimitsThatStoppedTheRunAndThePairsLeft) {
  EvaluationSpec spec;
  EvaluationResult result;
  result.remaining_pairs = 4;
  spec.max_pairs = 2;
  EXPECT_EQ(stopped_note(spec, result), "stopped after 2 pairs (--max-pairs); 4 remain: rerun the same command to continue\n");
  spec.max_items = 30;
  EXPECT_EQ(stopped_note(spec, result),
            "stopped after 2 pairs (--max-pairs) or 30 items (--max-items); 4 remain: rerun the same command to "
            "continue\n");
}

}  // namespace
}  // namespace qtalign::eval
