#include "train/adamw.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "io/error.h"

namespace qtalign::train {

AdamW::AdamW(std::vector<at::Tensor> parameters, AdamWOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  for (const at::Tensor& parameter : parameters_) {
    exp_avg_.push_back(at::zeros_like(parameter, at::MemoryFormat::Contiguous));
    exp_avg_sq_.push_back(at::zeros_like(parameter, at::MemoryFormat::Contiguous));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (!parameters_[i].grad().defined()) throw Error(fmt::format("AdamW: parameter {} has no gradient", i));
  ++steps_;
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, double(steps_));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(options_.beta2, double(steps_)));
  const double step_size = lr / bias_correction1;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor& parameter = parameters_[i];
    const at::Tensor& gradient = parameter.grad();
    parameter.mul_(1.0 - lr * options_.weight_decay);
    exp_avg_[i].mul_(options_.beta1).add_(gradient, 1.0 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(gradient, gradient, 1.0 - options_.beta2);
    const at::Tensor denominator = (exp_avg_sq_[i].sqrt() / bias_correction2_sqrt).add_(options_.eps);
    parameter.addcdiv_(exp_avg_[i], denominator, -step_size);
  }
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    tensors.emplace_back(fmt::format("exp_avg.{}", i), exp_avg_[i]);
    tensors.emplace_back(fmt::format("exp_avg_sq.{}", i), exp_avg_sq_[i]);
  }
  return tensors;
}

void AdamW::load_state(const std::vector<std::pair<std::string, at::Tensor>>& tensors, int64_t steps) {
  const std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (auto* moments : {&exp_avg_, &exp_avg_sq_}) {
      const std::string name = fmt::format("{}.{}", moments == &exp_avg_ ? "exp_avg" : "exp_avg_sq", i);
      const auto found = by_name.find(name);
      if (found == by_name.end()) throw Error("optimizer state: missing tensor " + name);
      if (found->second.sizes() != (*moments)[i].sizes())
        throw Error("optimizer state: tensor " + name + " does not match its parameter's shape");
      (*moments)[i].copy_(found->second);
    }
  }
  steps_ = steps;
}

}  // namespace qtalign::train
