// What an analysis run needs that no model does (analysis/base_tuned.h), checked before any loading.
#include "analysis/base_tuned.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::analysis {
namespace {

using testing::error_of;

TEST(AnalysisRunCheck, RefusesWhatWouldFailAfterTheModelLoads) {
  testing::TempDir dir;
  io::write_file_atomically(dir / "a-file", "in the way of an output directory");
  std::filesystem::create_directories(dir / "adapter");
  io::write_file_atomically(dir / "adapter" / "adapter_config.json", "{}");
  EXPECT_NO_THROW(check_analysis_run(1, dir / "adapter", dir / "out"));
  EXPECT_NO_THROW(check_analysis_run(8, "", dir / "out"));
  EXPECT_EQ(error_of([&] { check_analysis_run(0, "", dir / "out"); }), "--batch-size must be at least 1");
  EXPECT_EQ(error_of([&] { check_analysis_run(8, dir.path(), dir / "out"); }),
            dir.path().string() + ": is not an adapter directory (no adapter_config.json)");
  EXPECT_EQ(error_of([&] { check_analysis_run(8, "", dir / "a-file" / "out"); }),
            (dir / "a-file" / "out").string() + ": " + (dir / "a-file").string() + " is not a directory");
}

}  // namespace
}  // namespace qtalign::analysis
