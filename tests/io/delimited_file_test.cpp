#include "io/delimited_file.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

using testing::error_of;
using testing::TempDir;

TEST(DelimitedFile, ReadsCsvWithQuotesAndTsv) {
  TempDir dir;
  write_file_atomically(dir / "a.csv",
                        "question,answer\r\n\"Paris, or Rome?\",A\r\n\"She said \"\"hi\"\"\nthen left\",B\r\n\r\nplain,C");
  const std::vector<Json> rows = read_delimited_records(dir / "a.csv", ',');
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], Json({{"question", "Paris, or Rome?"}, {"answer", "A"}}));
  EXPECT_EQ(rows[1]["question"], "She said \"hi\"\nthen left");
  EXPECT_EQ(rows[2], Json({{"question", "plain"}, {"answer", "C"}}));
  write_file_atomically(dir / "a.tsv", "q\tgold\nx, y\t0\n\t1\n");
  const std::vector<Json> tsv = read_delimited_records(dir / "a.tsv", '\t');
  ASSERT_EQ(tsv.size(), 2u);
  EXPECT_EQ(tsv[0], Json({{"q", "x, y"}, {"gold", "0"}}));
  EXPECT_EQ(tsv[1], Json({{"q", ""}, {"gold", "1"}}));
}

TEST(DelimitedFile, RefusesMalformedFilesNamingTheLine) {
  TempDir dir;
  const auto error = [&](const std::string& text) {
    write_file_atomically(dir / "b.csv", text);
    return error_of([&] { read_delimited_records(dir / "b.csv", ','); });
  };
  EXPECT_NE(error("a,b\n1,2\n3\n").find("b.csv: line 3: 1 cells, but the header has 2 columns"), std::string::npos);
  EXPECT_NE(error("a,b\n1,\"2\n").find("line 2: a quoted cell is not closed"), std::string::npos);
  EXPECT_NE(error("a,a\n1,2\n").find("line 1: the column 'a' appears twice"), std::string::npos);
  EXPECT_NE(error("a,\n1,2\n").find("line 1: an empty column name"), std::string::npos);
  EXPECT_NE(error("").find("file is empty"), std::string::npos);
  EXPECT_NE(error("a\n\xff\n").find("invalid UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::io
