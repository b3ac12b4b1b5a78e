#include "analysis/pca.h"

#include <fmt/format.h>

#include <algorithm>

#include "io/error.h"

namespace qtalign::analysis {
namespace {

// Loadings within this relative distance of a row's largest magnitude count as tied for the sign.
constexpr double kTieTolerance = 1e-9;

// Flips each row of `components` so that its largest-magnitude entry (the first, among ties) is
// positive, using only tensor ops so it runs on any device.
at::Tensor with_fixed_signs(const at::Tensor& components) {
  const at::Tensor magnitude = components.abs();
  const at::Tensor largest = std::get<0>(magnitude.max(1, /*keepdim=*/true));
  const at::Tensor tied = magnitude >= largest * (1.0 - kTieTolerance);
  const int64_t width = components.size(1);
  // Earlier columns weigh more, so the arg-max over tied entries is the first of them.
  const at::Tensor earliness = at::arange(width, 0, -1, components.options());
  const at::Tensor column = (tied.to(components.scalar_type()) * earliness).argmax(1, true);
  const at::Tensor sign = components.gather(1, column).sign();
  return components * sign;
}

}  // namespace

Pca fit_pca(const at::Tensor& data, int64_t components) {
  if (data.dim() != 2 || data.size(0) < 2 || data.size(1) < 1)
    throw Error(fmt::format("PCA needs an [n, d] matrix with n >= 2 rows, got shape {}",
                            fmt::join(data.sizes(), "x")));
  const int64_t rows = data.size(0);
  const int64_t limit = std::min(rows, data.size(1));
  if (components < 1 || components > limit)
    throw Error(fmt::format("PCA of a {}x{} matrix can have 1 to {} components, not {}", rows,
                            data.size(1), limit, components));
  const at::Tensor values = data.to(at::kDouble);
  if (!at::isfinite(values).all().item<bool>()) throw Error("PCA input has non-finite values");

  Pca pca;
  pca.mean = values.mean(0);
  const at::Tensor centred = values - pca.mean;
  const double total_variance = centred.square().sum().item<double>() / static_cast<double>(rows - 1);
  if (total_variance == 0.0) throw Error("PCA input has no variance: all rows are equal");

  const auto [u, singular_values, vh] = at::linalg_svd(centred, /*full_matrices=*/false);
  pca.components = with_fixed_signs(vh.slice(0, 0, components));
  pca.explained_variance = singular_values.slice(0, 0, components).square() / static_cast<double>(rows - 1);
  pca.explained_variance_ratio = pca.explained_variance / total_variance;
  pca.projections = at::matmul(centred, pca.components.t());
  return pca;
}

at::Tensor project_onto(const Pca& pca, const at::Tensor& data) {
  if (data.dim() != 2 || data.size(1) != pca.components.size(1))
    throw Error(fmt::format("PCA projection needs rows of width {}, got shape {}",
                            pca.components.size(1), fmt::join(data.sizes(), "x")));
  return at::matmul(data.to(pca.components.options()) - pca.mean, pca.components.t());
}

}  // namespace qtalign::analysis
