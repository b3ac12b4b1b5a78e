#include "distributed/tensor_message.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/error.h"

namespace qtalign::distributed {
namespace {

// Values that a decimal round trip would bend (1/3, the smallest subnormal, -0.0) come back bit for
// bit, with their dtypes and shapes, and the header (with a newline in a string) intact.
TEST(TensorMessage, CarriesTensorsBitForBit) {
  const at::Tensor doubles = at::tensor({1.0 / 3.0, std::numeric_limits<double>::denorm_min(), -0.0, 1e300},
                                        at::TensorOptions().dtype(at::kDouble))
                                 .reshape({2, 2});
  const at::Tensor longs =
      at::tensor({int64_t{-5}, int64_t{1} << 62, int64_t{7}}, at::TensorOptions().dtype(at::kLong));
  const at::Tensor floats = at::arange(6, at::TensorOptions().dtype(at::kFloat)).reshape({3, 2}).t();  // not contiguous
  const at::Tensor empty = at::empty({0, 4}, at::TensorOptions().dtype(at::kFloat));
  const std::string bytes =
      encode_tensor_message({{{"note", "two\nlines"}}, {doubles, longs, floats, empty}});
  const TensorMessage message = decode_tensor_message(bytes, "test");
  EXPECT_EQ(message.header, (io::Json{{"note", "two\nlines"}}));
  ASSERT_EQ(message.tensors.size(), 4u);
  EXPECT_EQ(message.tensors[0].scalar_type(), at::kDouble);
  EXPECT_EQ(message.tensors[0].sizes(), doubles.sizes());
  EXPECT_TRUE(at::equal(message.tensors[0], doubles));
  EXPECT_TRUE(std::signbit(message.tensors[0][1][0].item<double>()));
  EXPECT_EQ(message.tensors[0][0][1].item<double>(), std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(at::equal(message.tensors[1], longs));
  EXPECT_EQ(message.tensors[2].sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(at::equal(message.tensors[2], floats));
  EXPECT_EQ(message.tensors[3].sizes(), empty.sizes());
}

TEST(TensorMessage, RefusesBytesThatDoNotMatchTheirHeader) {
  const std::string bytes = encode_tensor_message({io::Json::object(), {at::ones({3}, at::kDouble)}});
  EXPECT_THROW(decode_tensor_message(bytes.substr(0, bytes.size() - 1), "test"), Error);
  EXPECT_THROW(decode_tensor_message(bytes + "x", "test"), Error);
  EXPECT_THROW(decode_tensor_message("no header", "test"), Error);
  try {
    decode_tensor_message("{\"header\": 1\n", "batch 3 of zh");
    FAIL() << "a broken header was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch 3 of zh"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qtalign::distributed
