// The shared training step. References: AdamW and the clip factor computed here by hand in double from the
// step's gradients (torch's clip_grad_norm_ factor max_norm / (norm + 1e-6)); the loss of each micro-batch
// from model.forward on a twin model; micro-steps against one batch as large (f64); a skipped step against
// the parameters before it, bit for bit; the trainer against this step driven by hand over the same batches,
// bit for bit (one code path); on a GPU, bf16 compute against the CPU in f32 (skipped without a GPU).
#include "train/training_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "backend/backend_factory.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_device.h"
#include "data/batch_loader.h"
#include "model/model_dir.h"
#include "support/gradient_check.h"
#include "support/one_layer_model.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace minimind {
namespace {

Tensor host_copy(Backend& backend, const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype());
  backend.copy(t, copy);
  return copy;
}

Batch random_batch(int64_t b, int64_t t, int32_t vocab, std::mt19937_64& rng) {
  return {testing::random_ids({b, t}, vocab, rng), testing::random_ids({b, t}, vocab, rng), {}, {}};
}

ModelConfig moe_model() {
  ModelConfig c = one_layer_model();
  c.use_moe = true;
  c.n_routed_experts = 3;
  c.num_experts_per_tok = 2;
  c.n_shared_experts = 1;
  c.seq_aux = true;  // a mean over sequences: it splits over micro-batches like the cross-entropy
  return c;
}

TEST(TrainingStep, MatchesAdamWAndClippingByHand) {
  for (const bool moe : {false, true}) {
    const ModelConfig config = moe ? moe_model() : one_layer_model();
    CpuBackend backend(1);
    MiniMindModel model(config, backend, Precision::f64()), twin(config, backend, Precision::f64());
    model.init_weights(3);
    twin.init_weights(3);
    AdamWConfig adamw;
    adamw.weight_decay = 0.1;
    AdamW optimizer(model.layout(), backend, DType::f64, adamw);
    TrainingStep step(model, optimizer, 2);
    std::mt19937_64 rng(4);
    const Batch first = random_batch(2, 5, 64, rng), second = random_batch(2, 5, 64, rng);
    const double expected_loss = (twin.forward(first, true).loss + twin.forward(second, true).loss) / 2;

    step.begin();
    step.micro_step(first, 0);
    step.micro_step(second, 0);
    const Tensor gradients = host_copy(backend, model.gradients().buffer());
    const Tensor before = host_copy(backend, model.parameters().buffer());
    StepSettings settings;
    settings.learning_rate = 0.01;
    settings.max_grad_norm = 0.05;  // below the norm: clipped
    const StepOutcome outcome = step.finish(settings);

    double sum_squares = 0;
    for (double g : gradients.span<double>()) sum_squares += g * g;
    const double norm = std::sqrt(sum_squares), clip = 0.05 / (norm + 1e-6);
    ASSERT_LT(clip, 1.0) << "the test means to clip";
    EXPECT_TRUE(outcome.applied);
    EXPECT_NEAR(outcome.loss, expected_loss, 1e-12 * expected_loss) << "moe " << moe;
    EXPECT_NEAR(outcome.grad_norm, norm, 1e-12 * norm);
    EXPECT_NEAR(outcome.clip_factor, clip, 1e-12);
    if (moe) {
      EXPECT_GT(outcome.aux_loss, 0.0);
    }
    EXPECT_EQ(optimizer.steps(), 1);

    // The first AdamW update: m_hat = g, v_hat = g^2 (bias-corrected), p -= lr (m_hat / (sqrt(v_hat) + eps) +
    // wd p).
    const double* p0 = before.data<double>();
    const double* g = gradients.data<double>();
    const Tensor after = model.parameters().buffer();
    double worst = 0;
    for (int64_t i = 0; i < after.numel(); ++i) {
      const double clipped = g[i] * clip;
      const double expected = p0[i] - 0.01 * (clipped / (std::abs(clipped) + adamw.eps) + 0.1 * p0[i]);
      worst = std::max(worst, std::abs(after.data<double>()[i] - expected));
    }
    EXPECT_LT(worst, 1e-14) << "moe " << moe;
  }
}

TEST(TrainingStep, MicroStepsEqualOneBatchAsLarge) {
  for (const bool moe : {false, true}) {
    const ModelConfig config = moe ? moe_model() : one_layer_model();
    CpuBackend backend(2);
    MiniMindModel split(config, backend, Precision::f64()), whole(config, backend, Precision::f64());
    split.init_weights(5);
    whole.init_weights(5);
    AdamW split_optimizer(split.layout(), backend, DType::f64),
        whole_optimizer(whole.layout(), backend, DType::f64);
    TrainingStep split_step(split, split_optimizer, 3), whole_step(whole, whole_optimizer, 1);
    std::mt19937_64 rng(6);
    const Batch batch = random_batch(6, 7, 64, rng);
    StepSettings settings;
    settings.learning_rate = 1e-3;
    settings.max_grad_norm = 1.0;

    split_step.begin();
    for (int64_t micro = 0; micro < 3; ++micro)
      split_step.micro_step({batch.input_ids.rows(2 * micro, 2 * micro + 2),
                             batch.targets.rows(2 * micro, 2 * micro + 2),
                             {},
                             {}},
                            0);
    const StepOutcome a = split_step.finish(settings);
    const StepOutcome b = whole_step.run(batch, 0, settings);
    EXPECT_NEAR(a.loss, b.loss, 1e-12) << "moe " << moe;
    EXPECT_NEAR(a.aux_loss, b.aux_loss, 1e-12) << "moe " << moe;
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-12 * b.grad_norm) << "moe " << moe;
    // Adam's first update is lr g / (|g| + eps): where a gradient is within rounding of zero its sign may
    // differ between the two sums, so those elements are held only to the update's bound, 2 lr.
    const Tensor pa = split.parameters().buffer(), pb = whole.parameters().buffer();
    const Tensor g = whole.gradients().buffer();
    double worst = 0, worst_near_zero = 0;
    for (int64_t i = 0; i < pa.numel(); ++i) {
      const double difference = std::abs(pa.data<double>()[i] - pb.data<double>()[i]);
      double& bucket = std::abs(g.data<double>()[i]) > 1e-9 ? worst : worst_near_zero;
      bucket = std::max(bucket, difference);
    }
    EXPECT_LT(worst, 1e-12) << "moe " << moe;
    EXPECT_LE(worst_near_zero, 2 * settings.learning_rate) << "moe " << moe;
  }
}

TEST(TrainingStep, SkipsAboveTheLimitsAndOnNonFiniteGradientsWithoutCountingTheStep) {
  CpuBackend backend(1);
  MiniMindModel model(one_layer_model(), backend);
  model.init_weights(2);
  AdamW optimizer(model.layout(), backend, DType::f32);
  TrainingStep step(model, optimizer);
  std::mt19937_64 rng(1);
  const Batch batch = random_batch(2, 6, 64, rng);
  const Tensor before = host_copy(backend, model.parameters().buffer());
  auto unchanged = [&] {
    return std::memcmp(before.raw(), model.parameters().buffer().raw(), before.bytes()) == 0;
  };
  StepSettings settings;
  settings.learning_rate = 1e-2;
  settings.loss_limit = 1.0;  // the loss starts near ln(64) = 4.16
  StepOutcome outcome = step.run(batch, 0, settings);
  EXPECT_FALSE(outcome.applied);
  EXPECT_GT(outcome.loss, 1.0);
  EXPECT_TRUE(unchanged());
  EXPECT_EQ(optimizer.steps(), 0);

  settings.loss_limit = std::numeric_limits<double>::infinity();
  settings.grad_norm_limit = 0.0;
  EXPECT_FALSE(step.run(batch, 0, settings).applied);
  EXPECT_TRUE(unchanged());

  settings.grad_norm_limit = std::numeric_limits<double>::infinity();
  step.begin();
  step.micro_step(batch, 0);
  model.gradients().buffer().data<float>()[3] = std::nanf("");
  outcome = step.finish(settings);
  EXPECT_FALSE(outcome.applied);
  EXPECT_TRUE(std::isnan(outcome.grad_norm));
  EXPECT_TRUE(unchanged());
  EXPECT_EQ(optimizer.steps(), 0);

  EXPECT_TRUE(step.run(batch, 0, settings).applied);
  EXPECT_FALSE(unchanged());
  EXPECT_EQ(optimizer.steps(), 1);
}

TEST(TrainingStep, RefusesStepsOutOfOrder) {
  CpuBackend backend(1);
  MiniMindModel model(one_layer_model(), backend);
  AdamW optimizer(model.layout(), backend, DType::f32);
  EXPECT_THROW(TrainingStep(model, optimizer, 0), std::invalid_argument);
  TrainingStep step(model, optimizer, 2);
  std::mt19937_64 rng(1);
  const Batch batch = random_batch(1, 4, 64, rng);
  EXPECT_THROW(step.micro_step(batch, 0), std::logic_error);  // before begin
  step.begin();
  step.micro_step(batch, 0);
  EXPECT_THROW(step.finish({}), std::logic_error);  // one of two micro-steps
  step.begin();
  step.micro_step(batch, 0);
  step.micro_step(batch, 0);
  EXPECT_THROW(step.micro_step(batch, 0), std::logic_error);  // a third
}

// The trainer's steps are this step: driven by hand over the batches the trainer's loader draws, with the
// trainer's learning rates, the same losses and weights come out bit for bit.
TEST(TrainingStep, TheTrainerTakesExactlyThisStep) {
  ScratchDirectory dir;
  std::filesystem::create_directories(dir / "data");
  std::mt19937_64 rng(3);
  write_random_shard(dir / "data" / "train.shard", 64, 60, 12, 5, rng);
  TrainConfig config;
  config.data_dir = dir / "data";
  config.run_dir = dir / "run";
  config.batch_size = 2;
  config.seq_len = 8;
  config.accumulation_steps = 2;
  config.max_steps = 4;
  config.schedule.kind = ScheduleKind::warmup_cosine;
  config.schedule.learning_rate = 3e-3;
  config.schedule.warmup_steps = 1;
  config.schedule.total_steps = 4;
  config.eval_every = 0;
  config.save_every = 0;
  config.seed = 11;
  CpuBackend backend(1);

  std::vector<double> trainer_losses;
  {
    EventStream events;
    events.subscribe([&](const Event& e) {
      if (const auto* m = std::get_if<StepMetrics>(&e)) trainer_losses.push_back(m->loss);
    });
    Trainer trainer(config, one_layer_model(), backend, events);
    ASSERT_EQ(trainer.run().reason, "finished");
    events.close();
  }

  MiniMindModel model(one_layer_model(), backend, Precision::f32());
  model.init_weights(config.seed);
  AdamW optimizer(model.layout(), backend, DType::f32, config.adamw);
  TrainingStep step(model, optimizer, config.accumulation_steps);
  BatchLoaderOptions options;
  options.batch_size = config.batch_size;
  options.seq_len = config.seq_len;
  options.seed = config.seed;
  BatchLoader loader = BatchLoader::open({config.data_dir / "train.shard"}, options);
  std::vector<double> losses;
  for (int64_t s = 0; s < config.max_steps; ++s) {
    step.begin();
    for (int64_t micro = 0; micro < config.accumulation_steps; ++micro) step.micro_step(loader.next(), 0);
    StepSettings settings;
    settings.learning_rate = learning_rate_at(config.schedule, s);
    settings.max_grad_norm = config.grad_clip;
    losses.push_back(step.finish(settings).loss);
  }
  EXPECT_EQ(losses, trainer_losses);
  const auto checkpoint = latest_checkpoint(config.run_dir);
  ASSERT_TRUE(checkpoint.has_value());
  const auto trained = load_model(*checkpoint, backend);
  EXPECT_EQ(std::memcmp(trained->parameters().buffer().raw(), model.parameters().buffer().raw(),
                        model.parameters().buffer().bytes()),
            0);
}

// bf16 compute with f32 master weights on a GPU follows the CPU's f32 step within bf16's rounding.
// Tolerances: 2% on the loss and 10% on the gradient norm (bf16 keeps 8 bits of mantissa).
TEST(TrainingStep, Bf16OnTheGpuFollowsF32OnTheCpu) {
  const std::string why_not = cuda_unavailable_reason();
  if (!why_not.empty()) GTEST_SKIP() << "no GPU here: " << why_not;
  for (const bool moe : {false, true}) {
    const ModelConfig config = moe ? moe_model() : one_layer_model();
    CpuBackend cpu(1);
    const std::unique_ptr<Backend> gpu = make_backend("cuda");
    MiniMindModel reference(config, cpu, Precision::f32()), model(config, *gpu, Precision::bf16_mixed());
    reference.init_weights(7);
    model.init_weights(7);
    EXPECT_EQ(model.parameters().buffer().dtype(), DType::f32);
    EXPECT_EQ(model.compute_weights().buffer().dtype(), DType::bf16);
    AdamW reference_optimizer(reference.layout(), cpu, DType::f32),
        optimizer(model.layout(), *gpu, DType::f32);
    TrainingStep reference_step(reference, reference_optimizer, 2), step(model, optimizer, 2);
    std::mt19937_64 rng(8);
    StepSettings settings;
    settings.learning_rate = 1e-3;
    settings.max_grad_norm = 1.0;
    for (int s = 0; s < 3; ++s) {
      const Batch first = random_batch(2, 16, 64, rng), second = random_batch(2, 16, 64, rng);
      reference_step.begin();
      step.begin();
      for (const Batch* batch : {&first, &second}) {
        reference_step.micro_step(*batch, 0);
        step.micro_step(*batch, 0);
      }
      const StepOutcome expected = reference_step.finish(settings), got = step.finish(settings);
      EXPECT_TRUE(got.applied);
      EXPECT_NEAR(got.loss, expected.loss, 0.02 * expected.loss) << "moe " << moe << " step " << s;
      EXPECT_NEAR(got.grad_norm, expected.grad_norm, 0.1 * expected.grad_norm)
          << "moe " << moe << " step " << s;
    }
    EXPECT_EQ(optimizer.steps(), 3);
  }
}

}  // namespace
}  // namespace minimind
