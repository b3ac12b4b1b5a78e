#pragma once
// Summary statistics with confidence intervals, and similarity measures between representations.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace qtalign::stats {

// A point estimate with a two-sided confidence interval.
struct Estimate {
  double value = 0.0;
  double lower = 0.0;
  double upper = 0.0;
};

// z for a two-sided normal interval at `confidence` (1.959964 for 0.95); throws Error outside (0, 1).
double normal_quantile_two_sided(double confidence);

// Accuracy k/n with its Wilson score interval; throws Error unless 0 <= k <= n and n > 0.
Estimate wilson_interval(int64_t successes, int64_t trials, double confidence = 0.95);

// Per column of `samples` ([n] or [n, m], one row per item): the mean with a percentile bootstrap
// interval over `resamples` row resamples shared by all columns, drawn from std::mt19937_64(seed)
// identically on every platform; throws Error on no rows, non-finite values or resamples < 1.
std::vector<Estimate> bootstrap_mean_intervals(const at::Tensor& samples, int64_t resamples = 10000,
                                               uint64_t seed = 0, double confidence = 0.95);

// The same for one sample.
Estimate bootstrap_mean_interval(const std::vector<double>& sample, int64_t resamples = 10000,
                                 uint64_t seed = 0, double confidence = 0.95);

// Pearson's r of two 1-D tensors of equal length >= 2; throws Error if either is constant.
double pearson_correlation(const at::Tensor& x, const at::Tensor& y);

// Cosine similarity of each pair of matched rows of a and b ([n, d] each) as an [n] float64 tensor;
// throws Error on a shape mismatch or a zero row.
at::Tensor row_cosine_similarities(const at::Tensor& a, const at::Tensor& b);

// The mean of row_cosine_similarities(a, b).
double mean_cosine_similarity(const at::Tensor& a, const at::Tensor& b);

}  // namespace qtalign::stats
