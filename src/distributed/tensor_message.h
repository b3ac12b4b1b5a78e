#pragma once
// Tensors and a JSON header packed into one byte string: the form in which a shared unit's result
// travels between ranks (distributed::run_shared_work carries strings). The header line (the JSON,
// with each tensor's dtype and shape) comes first, then every tensor's raw bytes, so values arrive
// bit for bit.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "io/json_file.h"

namespace qtalign::distributed {

struct TensorMessage {
  io::Json header = io::Json::object();
  std::vector<at::Tensor> tensors;  // on the CPU and contiguous once decoded
};

// Packs `message` (its tensors copied to the CPU).
std::string encode_tensor_message(const TensorMessage& message);

// Unpacks what encode_tensor_message packed; throws Error naming `origin` when the bytes do not
// hold what their header describes.
TensorMessage decode_tensor_message(const std::string& bytes, const std::string& origin);

}  // namespace qtalign::distributed
