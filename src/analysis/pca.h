#pragma once
// Principal component analysis of row vectors (e.g. mean-pooled hidden states, one row per prompt).
#include <ATen/ATen.h>

#include <cstdint>

namespace qtalign::analysis {

// A fitted PCA; all tensors are float64 on the input's device.
struct Pca {
  at::Tensor mean;                      // [d] the row mean that was subtracted
  at::Tensor components;                // [k, d] orthonormal directions, by decreasing variance
  at::Tensor explained_variance;        // [k] variance along each component (n - 1 denominator)
  at::Tensor explained_variance_ratio;  // [k] share of the total variance of the data
  at::Tensor projections;               // [n, k] the centred rows in component coordinates
};

// Fits `components` principal components to the rows of `data` ([n, d], n >= 2) by SVD of the
// centred data; each component's sign makes its largest-magnitude loading positive (the first such
// loading on ties), so results are deterministic. Throws Error on a bad shape, k outside
// [1, min(n, d)], non-finite values or data without variance.
Pca fit_pca(const at::Tensor& data, int64_t components);

// Coordinates of the rows of `data` ([m, d]) in a fitted PCA's components: [m, k] float64.
at::Tensor project_onto(const Pca& pca, const at::Tensor& data);

}  // namespace qtalign::analysis
