// tools/long_functions.py, the check that no function in src/ runs over ~80 lines: it finds a long
// function and names it, is not fooled by braces in strings, raw strings or comments, looks into
// namespaces and classes, and finds none over 80 lines in src/ today.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

testing::CommandResult long_functions(const std::string& arguments) {
  return testing::run_command(testing::python() + " " +
                              shell_quote((testing::source_dir() / "tools/long_functions.py").string()) + " " +
                              arguments + " 2>&1");
}

// A function of `lines` lines: its signature, `lines - 2` statements, its closing brace.
std::string function_of(const std::string& name, int lines) {
  std::string text = "int " + name + "() {\n";
  for (int i = 0; i < lines - 2; ++i) text += "  call(\"}\", '{');  // }\n";
  return text + "}\n";
}

TEST(LongFunctions, NamesAFunctionOverTheLimitWithItsLength) {
  testing::TempDir temp;
  const std::filesystem::path file = temp.path() / "long.cpp";
  std::ofstream(file) << "namespace a {\nclass B {\n  void member() { /* { */ }\n};\n"
                      << "const char* text = R\"(\n{\n{\n)\";\n" << function_of("short_one", 80)
                      << function_of("long_one", 81) << "}  // namespace a\n";
  const testing::CommandResult result = long_functions("--max 80 " + shell_quote(file.string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output, file.string() + ":89: long_one is 81 lines (over 80)\n");
}

TEST(LongFunctions, ListsTheLongestWithTop) {
  testing::TempDir temp;
  const std::filesystem::path file = temp.path() / "short.cpp";
  std::ofstream(file) << function_of("f", 3) << "struct S {\n  int g() const {\n    return 1;\n  }\n};\n";
  const testing::CommandResult result = long_functions("--top 2 " + shell_quote(file.string()));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "    3 " + file.string() + ":5 g\n    3 " + file.string() + ":1 f\n");
}

TEST(LongFunctions, NoFunctionInTheSourcesIsOverEightyLines) {
  const testing::CommandResult result = long_functions(
      "--max 80 $(find " + shell_quote((testing::source_dir() / "src").string()) + " -name '*.cpp' -o -name '*.h')");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
}  // namespace qtalign
