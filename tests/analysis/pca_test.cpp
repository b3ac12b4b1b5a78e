#include "analysis/pca.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::analysis {
namespace {

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(at::allclose(actual, expected.to(actual.options()), 0.0, tolerance))
      << "actual\n" << actual << "\nexpected\n" << expected;
}

// Rows mean + t_i u + s_i v with u = (cos 30deg, sin 30deg), v = (-sin 30deg, cos 30deg),
// t = (-2, -1, 0, 1, 2), s = (0.5, -0.5, 0, -0.5, 0.5): t and s both have mean 0, and
// sum t s = -1 + 0.5 + 0 - 0.5 + 1 = 0, so u and v are the principal directions with variances
// sum t^2 / 4 = 10 / 4 = 2.5 and sum s^2 / 4 = 1 / 4 = 0.25 (total 2.75).
struct PlaneData {
  at::Tensor rows;
  at::Tensor u;
  at::Tensor v;
  at::Tensor t;
  at::Tensor s;
  at::Tensor mean;
};

PlaneData plane_data() {
  PlaneData data;
  const double angle = M_PI / 6.0;
  data.u = at::tensor({std::cos(angle), std::sin(angle)}, at::kDouble);
  data.v = at::tensor({-std::sin(angle), std::cos(angle)}, at::kDouble);
  data.t = at::tensor({-2.0, -1.0, 0.0, 1.0, 2.0}, at::kDouble);
  data.s = at::tensor({0.5, -0.5, 0.0, -0.5, 0.5}, at::kDouble);
  data.mean = at::tensor({10.0, -3.0}, at::kDouble);
  data.rows = data.mean + data.t.unsqueeze(1) * data.u + data.s.unsqueeze(1) * data.v;
  return data;
}

TEST(Pca, RecoversKnownDirectionsAndVariancesIn2D) {
  const PlaneData data = plane_data();
  const Pca pca = fit_pca(data.rows.to(at::kFloat), 2);
  // float32 input: the result is float64, accurate to float32's rounding of the input.
  EXPECT_EQ(pca.components.scalar_type(), at::kDouble);
  expect_close(pca.mean, data.mean, 1e-5);
  // u = (0.866, 0.5) has its largest loading positive already; so has v = (-0.5, 0.866).
  expect_close(pca.components[0], data.u, 1e-5);
  expect_close(pca.components[1], data.v, 1e-5);
  expect_close(pca.explained_variance, at::tensor({2.5, 0.25}, at::kDouble), 1e-5);
  expect_close(pca.explained_variance_ratio, at::tensor({2.5 / 2.75, 0.25 / 2.75}, at::kDouble), 1e-6);
  expect_close(pca.projections, at::stack({data.t, data.s}, 1), 1e-5);
}

TEST(Pca, KeepsTheLeadingComponentsOf3DData) {
  // The plane's directions embedded in 3-D by R = [[1,0,0],[0,h,h],[0,-h,h]] (h = 1/sqrt2, a 45
  // degree turn about the x axis), R (a, b, 0) = (a, h b, -h b), plus the third direction
  // w = R (0, 0, 1) = (0, h, h) with coefficients r = (0.1, -0.2, 0, 0.2, -0.1):
  // sum r = 0, sum t r = -0.2 + 0.2 + 0 + 0.2 - 0.2 = 0, sum s r = 0.05 + 0.1 + 0 - 0.1 - 0.05 = 0,
  // so the variances are 2.5, 0.25 and (0.01 + 0.04 + 0 + 0.04 + 0.01) / 4 = 0.025 (total 2.775).
  const PlaneData plane = plane_data();
  const double h = 1.0 / std::sqrt(2.0);
  const at::Tensor rotation = at::tensor({1.0, 0.0, 0.0, 0.0, h, h, 0.0, -h, h}, at::kDouble).view({3, 3});
  const at::Tensor zero = at::zeros({1}, at::kDouble);
  const at::Tensor u = at::matmul(rotation, at::cat({plane.u, zero}));  // (0.866, 0.354, -0.354)
  const at::Tensor v = at::matmul(rotation, at::cat({plane.v, zero}));  // (-0.5, 0.612, -0.612)
  const at::Tensor w = at::tensor({0.0, h, h}, at::kDouble);
  const at::Tensor r = at::tensor({0.1, -0.2, 0.0, 0.2, -0.1}, at::kDouble);
  const at::Tensor rows = plane.t.unsqueeze(1) * u + plane.s.unsqueeze(1) * v + r.unsqueeze(1) * w;

  const Pca pca = fit_pca(rows, 3);
  expect_close(pca.explained_variance, at::tensor({2.5, 0.25, 0.025}, at::kDouble), 1e-12);
  EXPECT_NEAR(pca.explained_variance_ratio.sum().item<double>(), 1.0, 1e-12);
  // u's largest loading (0.866) is positive. v's two largest tie at +-0.612: the first (+) wins,
  // so v keeps its sign. w's tie is between two positive loadings.
  expect_close(pca.components[0], u, 1e-12);
  expect_close(pca.components[1], v, 1e-12);
  expect_close(pca.components[2], w, 1e-12);
  expect_close(pca.projections, at::stack({plane.t, plane.s, r}, 1), 1e-12);

  const Pca two = fit_pca(rows, 2);
  EXPECT_EQ(two.components.size(0), 2);
  expect_close(two.explained_variance_ratio, at::tensor({2.5 / 2.775, 0.25 / 2.775}, at::kDouble), 1e-12);
}

TEST(Pca, SignsAreFixedByTheLargestLoading) {
  // Mirroring the data flips the SVD's freedom but not the reported components.
  const PlaneData data = plane_data();
  const Pca original = fit_pca(data.rows, 2);
  const Pca mirrored = fit_pca(-data.rows, 2);
  expect_close(mirrored.components, original.components, 1e-12);
  expect_close(mirrored.projections, -original.projections, 1e-12);

  // Along (1, -1)/sqrt2 both loadings tie in magnitude: the first one is made positive.
  const at::Tensor t = at::tensor({-1.0, 0.0, 1.0, 2.0}, at::kDouble);
  const at::Tensor diagonal = at::tensor({1.0, -1.0}, at::kDouble) / std::sqrt(2.0);
  const Pca tied = fit_pca(-(t.unsqueeze(1) * diagonal), 1);
  expect_close(tied.components[0], diagonal, 1e-12);
}

TEST(Pca, ProjectsNewRowsLikeTheFittedOnes) {
  const PlaneData data = plane_data();
  const Pca pca = fit_pca(data.rows, 2);
  expect_close(project_onto(pca, data.rows), pca.projections, 1e-12);
  // The mean itself lands on the origin; mean + 3u at (3, 0).
  const at::Tensor fresh = at::stack({data.mean, data.mean + 3.0 * data.u});
  expect_close(project_onto(pca, fresh), at::tensor({0.0, 0.0, 3.0, 0.0}, at::kDouble).view({2, 2}), 1e-12);
  EXPECT_THROW(project_onto(pca, at::zeros({2, 3})), Error);
}

TEST(Pca, AgreesWithNumpysEigendecompositionOfTheCovariance) {
  // An independent route: eigenvectors of numpy's covariance matrix (np.cov, np.linalg.eigh).
  std::mt19937_64 generator(9);
  std::normal_distribution<double> normal;
  const int64_t n = 60;
  const int64_t d = 6;
  std::vector<double> values;
  for (int64_t i = 0; i < n * d; ++i) values.push_back(normal(generator) * (1.0 + i % d));
  const at::Tensor data = at::tensor(values, at::kDouble).view({n, d});
  const Pca pca = fit_pca(data, 3);

  testing::TempDir dir;
  std::ofstream(dir / "data.txt") << [&] {
    std::ostringstream text;
    text.precision(17);
    for (double value : values) text << value << "\n";
    return text.str();
  }();
  const std::string script =
      "import numpy as np, sys\n"
      "x = np.loadtxt(sys.argv[1]).reshape(60, 6)\n"
      "w, v = np.linalg.eigh(np.cov(x, rowvar=False))\n"
      "order = np.argsort(w)[::-1][:3]\n"
      "for k in order:\n"
      "    c = v[:, k]\n"
      "    c = c if c[np.argmax(np.abs(c))] > 0 else -c\n"
      "    print(repr(w[k]), ' '.join(repr(e) for e in c))\n"
      "print(repr(w.sum()))\n";
  std::ofstream(dir / "reference.py") << script;
  const testing::CommandResult result = testing::run_command(
      testing::python() + " " + testing::shell_quote((dir / "reference.py").string()) + " " +
      testing::shell_quote((dir / "data.txt").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  for (int64_t k = 0; k < 3; ++k) {
    double variance = 0.0;
    lines >> variance;
    EXPECT_NEAR(pca.explained_variance[k].item<double>(), variance, 1e-9 * variance);
    for (int64_t j = 0; j < d; ++j) {
      double loading = 0.0;
      lines >> loading;
      EXPECT_NEAR(pca.components[k][j].item<double>(), loading, 1e-8) << "component " << k;
    }
  }
  double total = 0.0;
  lines >> total;
  EXPECT_NEAR(pca.explained_variance_ratio[0].item<double>(), pca.explained_variance[0].item<double>() / total, 1e-12);
}

TEST(Pca, RejectsBadInput) {
  EXPECT_THROW(fit_pca(at::ones({1, 3}), 1), Error);
  EXPECT_THROW(fit_pca(at::ones({4}), 1), Error);
  EXPECT_THROW(fit_pca(at::randn({5, 3}), 0), Error);
  EXPECT_THROW(fit_pca(at::randn({5, 3}), 4), Error);
  EXPECT_THROW(fit_pca(at::ones({5, 3}), 1), Error);
  at::Tensor with_nan = at::randn({5, 3});
  with_nan[2][1] = std::nan("");
  EXPECT_THROW(fit_pca(with_nan, 1), Error);
}

}  // namespace
}  // namespace qtalign::analysis
