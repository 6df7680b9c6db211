// The whole model on the GPU against the CPU backend: a training step of dense, MoE and YaRN models in f32
// (loss and every parameter's gradient within 1e-4, norm-relative per parameter), the shared training step's
// update, a bf16 mixed-precision step near the f32 one, greedy generation with identical ids, and a run's
// checkpoint moving between the devices both ways. Reference: the CPU backend in f32 on the same weights
// and batches. Every test skips, saying why, without a usable GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backend/backend_factory.h"
#include "backend/cuda/cuda_device.h"
#include "config/resources.h"
#include "infer/attention_probe.h"
#include "infer/generator.h"
#include "model/minimind_model.h"
#include "model/model_dir.h"
#include "support/random_shards.h"
#include "support/scratch_directory.h"
#include "tensor/convert.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/event_stream.h"
#include "train/trainer.h"
#include "train/training_step.h"

namespace minimind {
namespace {

#define SKIP_WITHOUT_GPU()                                                   \
  do {                                                                       \
    const std::string why = cuda_unavailable_reason(0);                      \
    if (!why.empty()) GTEST_SKIP() << "no GPU to test on: " << why;          \
  } while (0)

std::vector<double> host_doubles(Backend& backend, const Tensor& t) {
  const Tensor wide = convert_dtype(backend.to_host(t), DType::f64);
  return {wide.data<double>(), wide.data<double>() + wide.numel()};
}

// max |a - b| / max |b| over a range: the suite's norm-relative measure.
double relative_difference(const std::vector<double>& a, const std::vector<double>& b, int64_t begin, int64_t end) {
  double difference = 0, scale = 0;
  for (int64_t i = begin; i < end; ++i) {
    if (!std::isfinite(a[static_cast<size_t>(i)])) return INFINITY;
    difference = std::max(difference, std::abs(a[static_cast<size_t>(i)] - b[static_cast<size_t>(i)]));
    scale = std::max(scale, std::abs(b[static_cast<size_t>(i)]));
  }
  return difference / std::max(scale, 1e-30);
}

ModelConfig dense_model() {
  ModelConfig c;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = 97;  // odd on purpose
  c.intermediate_size = 96;
  c.max_position_embeddings = 64;
  c.dropout = 0.1;  // the masks are drawn alike on both devices
  return c;
}

ModelConfig moe_model() {
  ModelConfig c = dense_model();
  c.use_moe = true;
  c.n_routed_experts = 5;
  c.num_experts_per_tok = 2;
  c.n_shared_experts = 1;
  c.aux_loss_alpha = 0.1;
  c.dropout = 0.0;
  return c;
}

ModelConfig yarn_model() {
  ModelConfig c = dense_model();
  c.hidden_size = 256;  // head_dim 128, two query heads on one kv head
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 256;
  c.inference_rope_scaling = true;
  c.rope_scaling.original_max_position_embeddings = 64;
  c.rope_scaling.factor = 4.0;
  c.dropout = 0.0;
  return c;
}

// A right-padded batch with a partial loss mask, as the loader's padded (SFT) batches are. Left padding, where
// a padded query sees only padded keys, is an inference shape: there the GPU's softmax keeps the scores
// under the -1e9 (as f64 does) while f32 on the CPU rounds them away, and training never meets it.
Batch random_batch(int64_t batch, int64_t seq_len, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch b;
  b.input_ids = Tensor::empty({batch, seq_len}, DType::i32);
  b.targets = Tensor::empty({batch, seq_len}, DType::i32);
  b.loss_mask = Tensor::empty({batch, seq_len}, DType::f32);
  b.attention_mask = Tensor::empty({batch, seq_len}, DType::i32);
  for (int64_t i = 0; i < batch * seq_len; ++i) {
    const int64_t row = i / seq_len, t = i % seq_len;
    const bool padded = t >= seq_len - row;  // row r has r padded positions on the right
    b.input_ids.data<int32_t>()[i] = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
    b.targets.data<int32_t>()[i] = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
    b.attention_mask.data<int32_t>()[i] = padded ? 0 : 1;
    b.loss_mask.data<float>()[i] = padded || (t % 5 == 3) ? 0.0f : 1.0f;
  }
  return b;
}

struct StepComparison {
  double loss_cpu = 0, loss_gpu = 0;
  double worst_gradient = 0;
  std::string worst_parameter;
};

// One forward and backward of the same weights and batch on both devices.
StepComparison compare_step(const ModelConfig& config, Precision gpu_precision) {
  auto cpu = make_backend("cpu", 4);
  auto gpu = make_backend("cuda");
  MiniMindModel on_cpu(config, *cpu, Precision::f32());
  MiniMindModel on_gpu(config, *gpu, gpu_precision);
  on_cpu.init_weights(11);
  on_gpu.init_weights(11);
  const Batch batch = random_batch(3, 37, config.vocab_size, 5);
  cpu->zero(on_cpu.gradients().buffer());
  gpu->zero(on_gpu.gradients().buffer());
  StepComparison result;
  result.loss_cpu = on_cpu.forward(batch, true, 77).loss;
  result.loss_gpu = on_gpu.forward(batch, true, 77).loss;
  on_cpu.backward(1.0);
  on_gpu.backward(1.0);
  const std::vector<double> g_cpu = host_doubles(*cpu, on_cpu.gradients().buffer());
  const std::vector<double> g_gpu = host_doubles(*gpu, on_gpu.gradients().buffer());
  for (const ParameterEntry& e : on_cpu.layout().entries()) {
    const double d = relative_difference(g_gpu, g_cpu, e.offset, e.offset + e.numel());
    if (d >= result.worst_gradient) {
      result.worst_gradient = d;
      result.worst_parameter = e.name;
    }
  }
  return result;
}

TEST(GpuTrainingStep, DenseModelInF32MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const StepComparison c = compare_step(dense_model(), Precision::f32());
  EXPECT_NEAR(c.loss_gpu, c.loss_cpu, 1e-4 * std::abs(c.loss_cpu));
  EXPECT_LE(c.worst_gradient, 1e-4) << "worst parameter: " << c.worst_parameter;
}

TEST(GpuTrainingStep, MoeModelInF32MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const StepComparison c = compare_step(moe_model(), Precision::f32());
  EXPECT_NEAR(c.loss_gpu, c.loss_cpu, 1e-4 * std::abs(c.loss_cpu));
  EXPECT_LE(c.worst_gradient, 1e-4) << "worst parameter: " << c.worst_parameter;
}

TEST(GpuTrainingStep, YarnModelInF32MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const StepComparison c = compare_step(yarn_model(), Precision::f32());
  EXPECT_NEAR(c.loss_gpu, c.loss_cpu, 1e-4 * std::abs(c.loss_cpu));
  EXPECT_LE(c.worst_gradient, 1e-4) << "worst parameter: " << c.worst_parameter;
}

// bf16 operands and activations: the loss within 2e-2 of f32's, and for the dense model every gradient
// within 5e-2 (bf16 keeps 8 bits of mantissa; two layers of products compound its 4e-3 rounding). The MoE
// model's gradients are not compared: bf16's router logits pick another expert for rows whose top scores
// are within bf16's rounding, and that expert's gradient then differs wholly; its loss still agrees.
TEST(GpuTrainingStep, DenseAndMoeModelsInBf16StayNearTheCpu) {
  SKIP_WITHOUT_GPU();
  for (const ModelConfig& config : {dense_model(), moe_model()}) {
    const StepComparison c = compare_step(config, Precision::bf16_mixed());
    EXPECT_NEAR(c.loss_gpu, c.loss_cpu, 2e-2 * std::abs(c.loss_cpu)) << "use_moe " << config.use_moe;
    if (!config.use_moe) EXPECT_LE(c.worst_gradient, 5e-2) << "worst parameter: " << c.worst_parameter;
  }
}

// The shared training step (decision, clipping, AdamW) on both devices: the same loss, gradient norm and
// clip factor at every step within 1e-4, and the weights after three updates within 2e-3 of their largest
// magnitude. AdamW divides by sqrt(v): a gradient element near zero moves its weight by about lr whatever
// its rounding, so the weights cannot keep the gradients' 1e-4.
TEST(GpuTrainingStep, ThreeOptimizerStepsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (const ModelConfig& config : {dense_model(), moe_model()}) {
    auto cpu = make_backend("cpu", 4);
    auto gpu = make_backend("cuda");
    MiniMindModel on_cpu(config, *cpu, Precision::f32());
    MiniMindModel on_gpu(config, *gpu, Precision::f32());
    on_cpu.init_weights(3);
    on_gpu.init_weights(3);
    AdamW adam_cpu(on_cpu.layout(), *cpu, on_cpu.precision().master());
    AdamW adam_gpu(on_gpu.layout(), *gpu, on_gpu.precision().master());
    TrainingStep step_cpu(on_cpu, adam_cpu, 2), step_gpu(on_gpu, adam_gpu, 2);
    StepSettings settings;
    settings.learning_rate = 1e-2;
    settings.max_grad_norm = 0.5;
    for (int s = 0; s < 3; ++s) {
      step_cpu.begin();
      step_gpu.begin();
      for (int m = 0; m < 2; ++m) {
        const Batch batch = random_batch(2, 29, config.vocab_size, static_cast<uint64_t>(10 * s + m));
        step_cpu.micro_step(batch, static_cast<uint64_t>(s * 2 + m));
        step_gpu.micro_step(batch, static_cast<uint64_t>(s * 2 + m));
      }
      const StepOutcome a = step_cpu.finish(settings), b = step_gpu.finish(settings);
      EXPECT_TRUE(a.applied && b.applied);
      EXPECT_NEAR(b.loss, a.loss, 1e-4 * std::abs(a.loss)) << "step " << s;
      EXPECT_NEAR(b.grad_norm, a.grad_norm, 1e-4 * a.grad_norm) << "step " << s;
      EXPECT_NEAR(b.clip_factor, a.clip_factor, 1e-4) << "step " << s;
    }
    const std::vector<double> p_cpu = host_doubles(*cpu, on_cpu.parameters().buffer());
    const std::vector<double> p_gpu = host_doubles(*gpu, on_gpu.parameters().buffer());
    EXPECT_LE(relative_difference(p_gpu, p_cpu, 0, static_cast<int64_t>(p_cpu.size())), 2e-3)
        << "use_moe " << config.use_moe;
  }
}

// A non-finite gradient is caught on the device: the update is skipped and the weights stay as they were.
TEST(GpuTrainingStep, NonFiniteLossSkipsTheUpdateOnTheDevice) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_backend("cuda");
  MiniMindModel model(dense_model(), *gpu, Precision::bf16_mixed());
  model.init_weights(1);
  AdamW adam(model.layout(), *gpu, model.precision().master());
  TrainingStep step(model, adam, 1);
  const std::vector<double> before = host_doubles(*gpu, model.parameters().buffer());
  step.begin();
  step.micro_step(random_batch(2, 16, 97, 1), 0);
  // Poison one gradient the way an overflow would.
  Tensor nan = Tensor::empty({1}, DType::f32);
  nan.data<float>()[0] = NAN;
  Tensor first = model.gradients().buffer().flat(5, {1});
  gpu->copy(nan, first);
  StepSettings settings;
  settings.learning_rate = 1e-2;
  const StepOutcome outcome = step.finish(settings);
  EXPECT_FALSE(outcome.applied);
  EXPECT_TRUE(std::isnan(outcome.grad_norm));
  EXPECT_EQ(host_doubles(*gpu, model.parameters().buffer()), before);
}

// Greedy decoding with the KV cache, batch 1 and batched (left padding): identical ids on both devices.
// The dense test model sized for the default tokenizer, with the same weights on the CPU and on the GPU in
// f32 (and, for sampling, in bf16 on the GPU), and two prompts of different lengths.
struct GenerationModels {
  Tokenizer tokenizer = Tokenizer::load(default_tokenizer_dir() / "tokenizer.json");
  ModelConfig config = [this] {
    ModelConfig c = dense_model();
    c.vocab_size = tokenizer.vocab_size();
    c.max_position_embeddings = 128;
    c.dropout = 0;
    return c;
  }();
  std::unique_ptr<Backend> cpu = make_backend("cpu", 4), gpu = make_backend("cuda");
  MiniMindModel on_cpu{config, *cpu, Precision::f32()};
  MiniMindModel on_gpu{config, *gpu, Precision::f32()};
  MiniMindModel on_gpu_bf16{config, *gpu, Precision::bf16_mixed()};
  std::vector<std::vector<int32_t>> prompts = {tokenizer.encode("The lab trains small models"),
                                               tokenizer.encode("Hi")};

  GenerationModels() {
    for (MiniMindModel* model : {&on_cpu, &on_gpu, &on_gpu_bf16}) model->init_weights(21);
  }
  GenerationResult generate(MiniMindModel& model, const std::vector<std::vector<int32_t>>& batch,
                            const GenerationOptions& options) {
    return Generator(model, tokenizer).generate(batch, options);
  }
};

TEST(GpuGeneration, GreedyIdsEqualTheCpus) {
  SKIP_WITHOUT_GPU();
  GenerationModels m;
  GenerationOptions options;
  options.max_new_tokens = 40;
  options.sampling.greedy = true;
  for (const auto& batch : {std::vector<std::vector<int32_t>>{m.prompts[0]}, m.prompts}) {
    const GenerationResult a = m.generate(m.on_cpu, batch, options);
    const GenerationResult b = m.generate(m.on_gpu, batch, options);
    ASSERT_EQ(a.sequences.size(), b.sequences.size());
    for (size_t i = 0; i < a.sequences.size(); ++i)
      EXPECT_EQ(b.sequences[i].tokens, a.sequences[i].tokens) << "sequence " << i << " of " << batch.size();
  }
}

// Sampling on the GPU (sample_tokens' kernel) against the host Sampler: on one bf16 model the two read the
// same logits, so every token must match; between the GPU and the CPU in f32 the logits differ by f32
// rounding, far from these draws' boundaries.
TEST(GpuGeneration, SampledIdsEqualTheHostSamplersAndTheCpus) {
  SKIP_WITHOUT_GPU();
  GenerationModels m;
  std::vector<SamplingOptions> settings(3);
  settings[0].temperature = 1.3;
  settings[1].temperature = 0.9;
  settings[1].top_k = 30;
  settings[1].top_p = 0.9;
  settings[1].repetition_penalty = 1.1;
  settings[2].greedy = true;
  settings[2].repetition_penalty = 1.5;
  for (size_t k = 0; k < settings.size(); ++k) {
    GenerationOptions options;
    options.sampling = settings[k];
    options.sampling.seed = 5 + k;
    options.max_new_tokens = 30;
    options.stop_ids = std::vector<int32_t>{};
    const GenerationResult gpu_device = m.generate(m.on_gpu, m.prompts, options);
    const GenerationResult bf16_device = m.generate(m.on_gpu_bf16, m.prompts, options);
    options.sampling.candidates = 1;  // the host Sampler's path
    const GenerationResult cpu_host = m.generate(m.on_cpu, m.prompts, options);
    const GenerationResult bf16_host = m.generate(m.on_gpu_bf16, m.prompts, options);
    for (size_t i = 0; i < m.prompts.size(); ++i) {
      EXPECT_EQ(bf16_device.sequences[i].tokens, bf16_host.sequences[i].tokens)
          << "setting " << k << ", " << i;
      EXPECT_EQ(gpu_device.sequences[i].tokens, cpu_host.sequences[i].tokens) << "setting " << k << ", " << i;
    }
  }
}

// ---- checkpoints move between devices ------------------------------------------------------------------

TrainConfig small_run(const ScratchDirectory& dir, const std::string& run, const std::string& device) {
  TrainConfig c;
  c.data_dir = dir / "data";
  c.run_dir = dir / run;
  c.device = device;
  c.precision = "f32";
  c.batch_size = 4;
  c.seq_len = 24;
  c.accumulation_steps = 1;
  c.max_steps = 8;
  c.schedule.learning_rate = 3e-3;
  c.eval_every = 0;
  c.save_every = 4;
  c.seed = 9;
  c.threads = 4;
  return c;
}

void write_data(const ScratchDirectory& dir) {
  std::filesystem::create_directories(dir / "data");
  std::mt19937_64 rng(4);
  write_random_shard(dir / "data" / "train.shard", 97, 80, 20, 9, rng);
}

std::vector<double> final_weights(const std::filesystem::path& run_dir) {
  auto cpu = make_backend("cpu", 4);
  auto model = load_model(*latest_checkpoint(run_dir), *cpu);
  return host_doubles(*cpu, model->parameters().buffer());
}

// Trains 8 steps on `first` (a checkpoint at 4 and at 8); a copy of the run without its step-8 checkpoint
// resumes from step 4 on `second`, and ends with the weights of the uninterrupted run.
void expect_resume_across(const std::string& first, const std::string& second) {
  ScratchDirectory dir;
  write_data(dir);
  ModelConfig config = dense_model();
  config.dropout = 0;
  {
    auto backend = make_backend(first, 4);
    EventStream events;
    Trainer(small_run(dir, "whole", first), config, *backend, events).run();
  }
  std::filesystem::copy(dir / "whole", dir / "moved", std::filesystem::copy_options::recursive);
  const auto last = latest_checkpoint(dir / "moved");
  ASSERT_TRUE(last.has_value());
  std::filesystem::remove_all(*last);
  {
    auto backend = make_backend(second, 4);
    EventStream events;
    const TrainOutcome outcome = Trainer::resume(dir / "moved", *backend, events)->run();
    EXPECT_EQ(outcome.steps, 8);
  }
  const std::vector<double> whole = final_weights(dir / "whole");
  const std::vector<double> moved = final_weights(dir / "moved");
  ASSERT_EQ(whole.size(), moved.size());
  EXPECT_LE(relative_difference(moved, whole, 0, static_cast<int64_t>(whole.size())), 1e-4)
      << first << " then " << second;
}

TEST(GpuCheckpoints, ARunFromTheGpuResumesOnTheCpu) {
  SKIP_WITHOUT_GPU();
  expect_resume_across("cuda", "cpu");
}

TEST(GpuCheckpoints, ARunFromTheCpuResumesOnTheGpu) {
  SKIP_WITHOUT_GPU();
  expect_resume_across("cpu", "cuda");
}

// ---- the lab's probes and snapshots of a run --------------------------------------------------------------

// A run of 4 steps on `device` (f32) with a checkpoint every step and the probes every 2: each attention map
// and sample text it publishes equals what the CPU computes from that step's checkpoint, and a snapshot taken
// while it runs holds exactly that step's weights.
void expect_probes_and_snapshots_match_the_checkpoints(const std::string& device) {
  ScratchDirectory dir;
  const Tokenizer tokenizer = Tokenizer::load(default_tokenizer_dir() / "tokenizer.json");
  std::filesystem::create_directories(dir / "data");
  std::mt19937_64 rng(4);
  write_random_shard(dir / "data" / "train.shard", tokenizer.vocab_size(), 80, 20, 9, rng);
  ModelConfig config = dense_model();
  config.vocab_size = tokenizer.vocab_size();
  config.dropout = 0;
  TrainConfig run = small_run(dir, "run", device);
  run.max_steps = 4;
  run.save_every = 1;
  run.keep_last = 4;
  run.sample_every = 2;
  run.sample_tokens = 8;
  run.tokenizer = default_tokenizer_dir() / "tokenizer.json";
  run.probe_prompt = "The lab trains small models";

  auto backend = make_backend(device, 4);
  EventStream events;
  Trainer trainer(run, config, *backend, events);
  std::mutex mutex;
  std::vector<AttentionMaps> maps;
  std::vector<SampleText> samples;
  std::optional<std::future<ModelSnapshot>> snapshot;
  events.subscribe([&](const Event& event) {
    std::lock_guard lock(mutex);
    if (const auto* m = std::get_if<AttentionMaps>(&event)) maps.push_back(*m);
    if (const auto* t = std::get_if<SampleText>(&event)) samples.push_back(*t);
    const auto* metrics = std::get_if<StepMetrics>(&event);
    if (metrics && metrics->step == 2 && !snapshot) snapshot = trainer.request_snapshot();
  });
  trainer.run();
  events.close();

  auto cpu = make_backend("cpu", 4);
  const auto checkpoint = [&](int64_t step) {
    return load_model(dir / "run" / "checkpoints" / checkpoint_directory_name(step), *cpu);
  };
  ASSERT_FALSE(maps.empty());
  for (const AttentionMaps& m : maps) {
    auto model = checkpoint(m.step);
    const AttentionMaps expected = probe_attention(*model, tokenizer, run.probe_prompt, 64, m.step);
    EXPECT_EQ(m.tokens, expected.tokens);
    ASSERT_EQ(m.weights.size(), expected.weights.size());
    float worst = 0;
    for (size_t i = 0; i < m.weights.size(); ++i)
      worst = std::max(worst, std::abs(m.weights[i] - expected.weights[i]));
    EXPECT_LE(worst, 1e-4f) << "attention maps at step " << m.step;
  }
  ASSERT_EQ(samples.size(), 2u);
  for (const SampleText& sample : samples) {
    auto model = checkpoint(sample.step);
    Generator generator(*model, tokenizer);
    GenerationOptions options;  // the trainer's probe sampling
    options.max_new_tokens = run.sample_tokens;
    options.sampling.temperature = 0.8;
    options.sampling.top_k = 40;
    options.sampling.seed = static_cast<uint64_t>(sample.step);
    std::vector<int32_t> ids = tokenizer.encode(run.probe_prompt);
    EXPECT_EQ(sample.text, generator.generate({ids}, options).sequences.front().text)
        << "step " << sample.step;
  }
  ASSERT_TRUE(snapshot.has_value());
  const ModelSnapshot taken = snapshot->get();
  ASSERT_GE(taken.step, 2);
  auto model = checkpoint(taken.step);
  const std::vector<double> expected = host_doubles(*cpu, model->parameters().buffer());
  const std::vector<double> held = host_doubles(*cpu, taken.weights);
  EXPECT_EQ(held, expected) << "the snapshot of step " << taken.step;
}

TEST(GpuTrainer, ProbesAndSnapshotsOfARunMatchItsCheckpoints) {
  SKIP_WITHOUT_GPU();
  expect_probes_and_snapshots_match_the_checkpoints("cuda");
}

}  // namespace
}  // namespace minimind
