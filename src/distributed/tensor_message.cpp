#include "distributed/tensor_message.h"

#include <fmt/format.h>

#include <cstring>

#include "io/error.h"

namespace qtalign::distributed {

std::string encode_tensor_message(const TensorMessage& message) {
  io::Json layout = io::Json::array();
  std::vector<at::Tensor> contiguous;
  for (const at::Tensor& tensor : message.tensors) {
    contiguous.push_back(tensor.to(at::kCPU).contiguous());
    layout.push_back({{"dtype", static_cast<int>(tensor.scalar_type())}, {"shape", tensor.sizes().vec()}});
  }
  // A compact dump escapes newlines inside strings, so the first newline ends the header.
  std::string bytes = io::Json{{"header", message.header}, {"tensors", layout}}.dump() + "\n";
  for (const at::Tensor& tensor : contiguous)
    bytes.append(static_cast<const char*>(tensor.data_ptr()), tensor.nbytes());
  return bytes;
}

TensorMessage decode_tensor_message(const std::string& bytes, const std::string& origin) {
  const size_t end_of_header = bytes.find('\n');
  if (end_of_header == std::string::npos) throw Error(origin + ": no header line in a tensor message");
  TensorMessage message;
  io::Json layout;
  try {
    const io::Json packed = io::Json::parse(bytes.substr(0, end_of_header));
    message.header = packed.at("header");
    layout = packed.at("tensors");
  } catch (const io::Json::exception& e) {
    throw Error(fmt::format("{}: unreadable tensor message header: {}", origin, e.what()));
  }
  size_t offset = end_of_header + 1;
  for (const io::Json& entry : layout) {
    const int dtype = entry.at("dtype").get<int>();
    if (dtype < 0 || dtype >= static_cast<int>(at::ScalarType::NumOptions))
      throw Error(fmt::format("{}: unknown tensor dtype {}", origin, dtype));
    at::Tensor tensor = at::empty(entry.at("shape").get<std::vector<int64_t>>(),
                                  at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
    if (bytes.size() - offset < tensor.nbytes())
      throw Error(fmt::format("{}: a tensor message ends {} bytes early", origin,
                              tensor.nbytes() - (bytes.size() - offset)));
    if (tensor.nbytes() > 0)  // an empty tensor has no storage to copy into
      std::memcpy(tensor.data_ptr(), bytes.data() + offset, tensor.nbytes());
    offset += tensor.nbytes();
    message.tensors.push_back(std::move(tensor));
  }
  if (offset != bytes.size())
    throw Error(
        fmt::format("{}: {} bytes after the tensors a message's header describes", origin, bytes.size() - offset));
  return message;
}

}  // namespace qtalign::distributed
