#pragma once
// The learning-rate schedule: linear warmup then cosine decay to zero, as Hugging Face's
// get_cosine_schedule_with_warmup computes it.
#include <cstdint>

namespace qtalign::train {

// The learning rate of optimizer step `step` (0-based): peak * step / warmup during the warmup,
// then peak * 0.5 * (1 + cos(pi * progress)) with progress = (step - warmup) / (total - warmup).
double cosine_with_warmup_lr(double peak_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

// Warmup steps for a ratio of the total, rounded up as Hugging Face's Trainer does.
int64_t warmup_steps_for_ratio(double warmup_ratio, int64_t total_steps);

}  // namespace qtalign::train
