#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace qtalign::train {

double cosine_with_warmup_lr(double peak_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) return peak_lr * double(step) / double(std::max<int64_t>(1, warmup_steps));
  const double progress = double(step - warmup_steps) / double(std::max<int64_t>(1, total_steps - warmup_steps));
  return peak_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

int64_t warmup_steps_for_ratio(double warmup_ratio, int64_t total_steps) {
  return static_cast<int64_t>(std::ceil(warmup_ratio * double(total_steps)));
}

}  // namespace qtalign::train
