// Parity with the independent PyTorch reference (experiments/reference/minimind_torch.py): for each committed
// fixture, logits, loss, aux loss and every parameter's gradient, computed by PyTorch in float64 from the same
// f32 weights. Tolerance: max |lab - reference| / max |reference| per tensor, 1e-5 in f32 and 1e-9 in f64.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend/cpu/cpu_backend.h"
#include "io/safetensors.h"
#include "model/model_dir.h"

namespace minimind {
namespace {

namespace fs = std::filesystem;

double relative_error(const Tensor& lab, const Tensor& reference, const Tensor& row_mask = {}, int64_t row = 1) {
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < reference.numel(); ++i) {
    if (row_mask.defined() && row_mask.data<int32_t>()[i / row] == 0) continue;
    const double r = reference.data<double>()[i];
    const double l = lab.dtype() == DType::f64 ? lab.data<double>()[i] : lab.data<float>()[i];
    worst = std::max(worst, std::abs(l - r));
    scale = std::max(scale, std::abs(r));
  }
  return worst / std::max(scale, 1e-30);
}

class PytorchParity : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(PytorchParity, LogitsLossAndGradients) {
  const auto [name, dtype] = GetParam();
  const fs::path dir = fs::path(MINIMIND_FIXTURES_DIR) / name;
  ASSERT_TRUE(fs::exists(dir / "reference.safetensors")) << dir;
  const double tolerance = dtype == DType::f32 ? 1e-5 : 1e-9;

  CpuBackend backend(2);
  auto model = load_model(dir, backend, Precision{dtype});
  const SafetensorsFile reference = SafetensorsFile::open(dir / "reference.safetensors");
  Batch batch{reference.read("input_ids", DType::i32), reference.read("targets", DType::i32),
              reference.read("loss_mask", dtype), {}};
  if (reference.contains("attention_mask")) batch.attention_mask = reference.read("attention_mask", DType::i32);

  backend.zero(model->gradients().buffer());
  const LossTerms loss = model->forward(batch, true);
  const double ref_loss = reference.read("loss", DType::f64).data<double>()[0];
  const double ref_aux = reference.read("aux_loss", DType::f64).data<double>()[0];
  EXPECT_NEAR(loss.loss, ref_loss, tolerance * std::abs(ref_loss)) << name;
  EXPECT_NEAR(loss.aux_loss, ref_aux, tolerance * std::abs(ref_loss) + 1e-15) << name;

  // Padded query rows attend only to masked keys: their logits are not compared (nor used by the loss).
  const Tensor ref_logits = reference.read("logits", DType::f64);
  EXPECT_LT(relative_error(model->logits(), ref_logits, batch.attention_mask, model->config().vocab_size), tolerance)
      << name << " logits";

  model->backward();
  int compared = 0;
  for (const ParameterEntry& e : model->layout().entries()) {
    const Tensor expected = reference.read("grad." + e.name, DType::f64);
    ASSERT_EQ(expected.shape(), e.shape) << e.name;
    EXPECT_LT(relative_error(model->gradients().get(e.name), expected), tolerance) << name << " grad." << e.name;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(model->layout().entries().size()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PytorchParity,
                         ::testing::Combine(::testing::Values("dense_gqa", "dense_mha", "moe_seq_aux", "moe_batch_aux",
                                                              "yarn", "padding"),
                                            ::testing::Values(DType::f32, DType::f64)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param) == DType::f32 ? "_f32" : "_f64");
                         });

}  // namespace
}  // namespace minimind
