#pragma once
// Non-finite numbers (NaN, infinity) in weights, hidden states or logits make every result after
// them meaningless; each consumer stops on them with this one check instead of writing NaN outputs.
#include <ATen/ATen.h>

#include <string>

namespace qtalign::model {

// Throws Error "<what>: N of M values are NaN or infinite (...)" unless every element of `values` is
// finite; `what` names the tensor and where it came from.
void require_finite(const at::Tensor& values, const std::string& what);

}  // namespace qtalign::model
