#include "stats/statistics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "io/error.h"

namespace qtalign::stats {
namespace {

// Resample count rows per block, bounding the [block, n] count matrix to about 32 MB.
constexpr int64_t kCountMatrixElements = int64_t{1} << 22;

void require_confidence_level(double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0))
    throw Error(fmt::format("confidence level {} is outside (0, 1)", confidence));
}

void require_finite(const at::Tensor& values, const std::string& what) {
  if (!at::isfinite(values).all().item<bool>()) throw Error(what + " has non-finite values");
}

// An unbiased index in [0, bound) from raw 64-bit draws: rejecting the top partial block keeps every
// residue equally likely, with the same result on every platform (unlike
// std::uniform_int_distribution, whose algorithm is implementation-defined).
uint64_t draw_index(std::mt19937_64& generator, uint64_t bound) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t leftover = (max % bound + 1) % bound;  // 2^64 mod bound
  while (true) {
    const uint64_t draw = generator();
    if (leftover == 0 || draw <= max - leftover) return draw % bound;
  }
}

// The q-quantile of each column of `sorted` ([b, m], sorted along rows), interpolating linearly
// between order statistics (numpy's default "linear" method).
at::Tensor sorted_quantile(const at::Tensor& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size(0) - 1);
  const int64_t below = static_cast<int64_t>(std::floor(position));
  const int64_t above = std::min(below + 1, sorted.size(0) - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

}  // namespace

double normal_quantile_two_sided(double confidence) {
  require_confidence_level(confidence);
  // Bisection on the standard normal CDF 0.5 * erfc(-z / sqrt 2): slow to converge but exact to
  // double precision and free of approximation constants.
  const double target = 0.5 + confidence / 2.0;
  double low = 0.0;
  double high = 40.0;
  for (int i = 0; i < 200 && high - low > 1e-15; ++i) {
    const double middle = (low + high) / 2.0;
    (0.5 * std::erfc(-middle / std::sqrt(2.0)) < target ? low : high) = middle;
  }
  return (low + high) / 2.0;
}

Estimate wilson_interval(int64_t successes, int64_t trials, double confidence) {
  if (trials <= 0 || successes < 0 || successes > trials)
    throw Error(fmt::format("accuracy interval needs 0 <= correct <= total and total > 0, got {} of {}",
                            successes, trials));
  const double z = normal_quantile_two_sided(confidence);
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / n;
  const double centre = (p + z2 / (2.0 * n)) / denominator;
  const double half_width = z / denominator * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
  return Estimate{p, std::max(0.0, centre - half_width), std::min(1.0, centre + half_width)};
}

std::vector<Estimate> bootstrap_mean_intervals(const at::Tensor& samples, int64_t resamples,
                                               uint64_t seed, double confidence) {
  if (samples.dim() != 1 && samples.dim() != 2)
    throw Error(fmt::format("bootstrap needs a [n] or [n, m] sample, got {} dimensions", samples.dim()));
  if (samples.size(0) == 0) throw Error("bootstrap of an empty sample");
  if (resamples < 1) throw Error(fmt::format("bootstrap needs at least 1 resample, got {}", resamples));
  require_confidence_level(confidence);
  const double alpha = 1.0 - confidence;
  const at::Tensor values = (samples.dim() == 1 ? samples.unsqueeze(1) : samples).to(at::kDouble);
  require_finite(values, "bootstrap sample");
  const int64_t rows = values.size(0);

  // A resample's mean is (counts of each row) . values / n, so blocks of resamples become one
  // matrix product on the sample's device.
  std::mt19937_64 generator(seed);
  const int64_t block = std::max<int64_t>(1, std::min(resamples, kCountMatrixElements / rows));
  std::vector<at::Tensor> means;
  for (int64_t start = 0; start < resamples; start += block) {
    const int64_t count = std::min(block, resamples - start);
    at::Tensor counts = at::zeros({count, rows}, at::kDouble);
    double* data = counts.data_ptr<double>();
    for (int64_t r = 0; r < count; ++r)
      for (int64_t i = 0; i < rows; ++i)
        data[r * rows + draw_index(generator, static_cast<uint64_t>(rows))] += 1.0;
    means.push_back(at::matmul(counts.to(values.device()), values).div_(static_cast<double>(rows)).cpu());
  }
  const at::Tensor sorted = std::get<0>(at::sort(at::cat(means), 0));
  const at::Tensor lower = sorted_quantile(sorted, alpha / 2.0);
  const at::Tensor upper = sorted_quantile(sorted, 1.0 - alpha / 2.0);
  const at::Tensor mean = values.mean(0).cpu();

  std::vector<Estimate> estimates;
  for (int64_t column = 0; column < values.size(1); ++column)
    estimates.push_back(Estimate{mean[column].item<double>(), lower[column].item<double>(),
                                 upper[column].item<double>()});
  return estimates;
}

Estimate bootstrap_mean_interval(const std::vector<double>& sample, int64_t resamples, uint64_t seed,
                                 double confidence) {
  const at::Tensor values = at::tensor(at::ArrayRef<double>(sample), at::kDouble);
  return bootstrap_mean_intervals(values, resamples, seed, confidence).front();
}

double pearson_correlation(const at::Tensor& x, const at::Tensor& y) {
  if (x.dim() != 1 || y.dim() != 1 || x.size(0) != y.size(0) || x.size(0) < 2)
    throw Error(fmt::format("correlation needs two 1-D tensors of one length >= 2, got shapes {} and {}",
                            fmt::join(x.sizes(), "x"), fmt::join(y.sizes(), "x")));
  const at::Tensor a = x.to(at::kDouble);
  const at::Tensor b = y.to(at::kDouble);
  require_finite(a, "correlation input");
  require_finite(b, "correlation input");
  const at::Tensor a_centred = a - a.mean();
  const at::Tensor b_centred = b - b.mean();
  const double a_squares = a_centred.dot(a_centred).item<double>();
  const double b_squares = b_centred.dot(b_centred).item<double>();
  if (a_squares == 0.0 || b_squares == 0.0)
    throw Error("correlation is undefined for a constant input");
  const double r = a_centred.dot(b_centred).item<double>() / std::sqrt(a_squares * b_squares);
  return std::clamp(r, -1.0, 1.0);
}

at::Tensor row_cosine_similarities(const at::Tensor& a, const at::Tensor& b) {
  if (a.dim() != 2 || a.sizes() != b.sizes() || a.size(0) == 0)
    throw Error(fmt::format("cosine similarity needs two non-empty [n, d] tensors of one shape, got {} and {}",
                            fmt::join(a.sizes(), "x"), fmt::join(b.sizes(), "x")));
  const at::Tensor left = a.to(at::kDouble);
  const at::Tensor right = b.to(at::kDouble);
  require_finite(left, "cosine similarity input");
  require_finite(right, "cosine similarity input");
  const at::Tensor norms = left.norm(2, 1) * right.norm(2, 1);
  if ((norms == 0.0).any().item<bool>()) throw Error("cosine similarity of a zero vector is undefined");
  return ((left * right).sum(1) / norms).clamp(-1.0, 1.0);
}

double mean_cosine_similarity(const at::Tensor& a, const at::Tensor& b) {
  return row_cosine_similarities(a, b).mean().item<double>();
}

}  // namespace qtalign::stats
