#pragma once
// AdamW (decoupled weight decay) with exactly the update of torch.optim.AdamW (amsgrad off).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qtalign::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class AdamW {
 public:
  // Optimises `parameters` in place (fp32 tensors whose .grad() the caller fills); the moment
  // estimates live beside them, in fp32.
  AdamW(std::vector<at::Tensor> parameters, AdamWOptions options);

  // One update at learning rate `lr` from the parameters' current gradients (every parameter must
  // have one; throws Error otherwise), as torch.optim.AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
  // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
  void step(double lr);

  int64_t steps_taken() const { return steps_; }
  const std::vector<at::Tensor>& parameters() const { return parameters_; }

  // The moment estimates as named tensors ("exp_avg.<i>", "exp_avg_sq.<i>") for a checkpoint.
  std::vector<std::pair<std::string, at::Tensor>> state_tensors() const;
  // Restores what state_tensors() returned after `steps` updates; throws Error on missing or
  // mis-shaped tensors.
  void load_state(const std::vector<std::pair<std::string, at::Tensor>>& tensors, int64_t steps);

 private:
  std::vector<at::Tensor> parameters_;
  std::vector<at::Tensor> exp_avg_;
  std::vector<at::Tensor> exp_avg_sq_;
  AdamWOptions options_;
  int64_t steps_ = 0;
};

}  // namespace qtalign::train
