#include "train/adamw.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::train {
namespace {

std::string values_text(const at::Tensor& tensor) {
  std::ostringstream text;
  text.precision(9);
  const at::Tensor flat = tensor.contiguous().view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) text << flat[i].item<float>() << " ";
  return text.str();
}

// Four AdamW steps with weight decay, varying learning rates and gradients, against torch.optim.AdamW.
TEST(AdamW, MatchesTorchOptimAdamW) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  const std::vector<std::vector<int64_t>> shapes = {{3, 4}, {5}};
  const std::vector<double> rates = {1e-3, 5e-4, 2e-2, 0.0};
  std::vector<at::Tensor> parameters;
  std::ofstream input;
  testing::TempDir dir;
  input.open(dir / "input.txt");
  for (const auto& shape : shapes) {
    parameters.push_back(at::randn(shape, generator));
    input << values_text(parameters.back()) << "\n";
  }
  std::vector<std::vector<at::Tensor>> gradients;
  for (size_t step = 0; step < rates.size(); ++step) {
    gradients.emplace_back();
    for (const auto& shape : shapes) {
      gradients.back().push_back(at::randn(shape, generator) * (double(step + 1) * 1e-2));
      input << values_text(gradients.back().back()) << "\n";
    }
  }
  input.close();

  AdamWOptions options;
  options.beta1 = 0.9;
  options.beta2 = 0.99;
  options.eps = 1e-6;
  options.weight_decay = 0.05;
  std::vector<at::Tensor> ours;
  for (const at::Tensor& parameter : parameters) ours.push_back(parameter.clone());
  AdamW optimizer(ours, options);
  for (size_t step = 0; step < rates.size(); ++step) {
    for (size_t i = 0; i < ours.size(); ++i) ours[i].mutable_grad() = gradients[step][i];
    optimizer.step(rates[step]);
  }
  EXPECT_EQ(optimizer.steps_taken(), 4);

  const std::string script =
      "import sys, torch\n"
      "rows = [torch.tensor([float(v) for v in line.split()]) for line in open(sys.argv[1])]\n"
      "shapes = [(3, 4), (5,)]\n"
      "params = [rows[i].reshape(s).clone().requires_grad_(True) for i, s in enumerate(shapes)]\n"
      "opt = torch.optim.AdamW(params, lr=1.0, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.05)\n"
      "for step, lr in enumerate([1e-3, 5e-4, 2e-2, 0.0]):\n"
      "    for i, p in enumerate(params):\n"
      "        p.grad = rows[2 + 2 * step + i].reshape(shapes[i]).clone()\n"
      "    opt.param_groups[0]['lr'] = lr\n"
      "    opt.step()\n"
      "for p in params:\n"
      "    s = opt.state[p]\n"
      "    for t in (p.detach(), s['exp_avg'], s['exp_avg_sq']):\n"
      "        print(' '.join(repr(float(v)) for v in t.reshape(-1)))\n";
  std::ofstream(dir / "reference.py") << script;
  const testing::CommandResult result = testing::run_command(testing::python() + " " +
                                                             testing::shell_quote((dir / "reference.py").string()) + " " +
                                                             testing::shell_quote((dir / "input.txt").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  const auto state = optimizer.state_tensors();
  for (size_t i = 0; i < ours.size(); ++i) {
    for (const at::Tensor& tensor : {ours[i], state[2 * i].second, state[2 * i + 1].second}) {
      const at::Tensor flat = tensor.contiguous().view(-1);
      for (int64_t k = 0; k < flat.numel(); ++k) {
        double expected = 0;
        lines >> expected;
        EXPECT_NEAR(flat[k].item<double>(), expected, 1e-7 + 1e-6 * std::abs(expected)) << "parameter " << i << " element " << k;
      }
    }
  }
  EXPECT_FALSE(at::allclose(ours[0], parameters[0]));
}

TEST(AdamW, RestoresItsState) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor start = at::randn({4, 2}, generator);
  const std::vector<at::Tensor> gradients = {at::randn({4, 2}, generator), at::randn({4, 2}, generator),
                                             at::randn({4, 2}, generator)};
  at::Tensor straight = start.clone();
  AdamW uninterrupted({straight}, {});
  for (const at::Tensor& gradient : gradients) {
    straight.mutable_grad() = gradient;
    uninterrupted.step(1e-2);
  }
  at::Tensor first = start.clone();
  AdamW before({first}, {});
  first.mutable_grad() = gradients[0];
  before.step(1e-2);
  at::Tensor second = first.clone();
  AdamW after({second}, {});
  after.load_state(before.state_tensors(), before.steps_taken());
  for (size_t i = 1; i < gradients.size(); ++i) {
    second.mutable_grad() = gradients[i];
    after.step(1e-2);
  }
  EXPECT_TRUE(at::equal(second, straight));
  EXPECT_THROW(after.load_state({}, 1), Error);
}

TEST(AdamW, RequiresGradients) {
  at::Tensor parameter = at::zeros({2});
  AdamW optimizer({parameter}, {});
  EXPECT_THROW(optimizer.step(1e-3), Error);
  EXPECT_EQ(optimizer.steps_taken(), 0);
}

}  // namespace
}  // namespace qtalign::train
