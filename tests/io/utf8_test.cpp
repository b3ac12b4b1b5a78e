#include "io/utf8.h"

#include <gtest/gtest.h>

namespace qtalign::io {
namespace {

TEST(Utf8, AcceptsValidTextInManyScripts) {
  EXPECT_FALSE(find_invalid_utf8("plain ascii").has_value());
  EXPECT_FALSE(find_invalid_utf8("前提: 孩子们 — ভাল ไทย 😀").has_value());
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xFFz"), 2u);               // never valid
  EXPECT_EQ(find_invalid_utf8("a\xC0\xAF"), 1u);              // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);          // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);       // past U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\xE4\xBD"), 2u);             // truncated sequence
}

}  // namespace
}  // namespace qtalign::io
