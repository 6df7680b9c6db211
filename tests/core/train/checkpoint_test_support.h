// Helpers of the checkpoint tests: a model and a trainer state whose every value is determined by a step
// number, so that a checkpoint read back can be compared bit for bit with what was written for its step.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "train/checkpoint.h"

namespace minimind::testing {

inline ModelConfig checkpoint_test_config(int64_t hidden = 16, int64_t vocab = 19, int64_t intermediate = 32) {
  ModelConfig c;
  c.hidden_size = hidden;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.vocab_size = vocab;
  c.intermediate_size = intermediate;
  c.max_position_embeddings = 32;
  return c;
}

inline Tensor clone(const Tensor& t) {
  Tensor copy = Tensor::empty(t.shape(), t.dtype());
  std::memcpy(copy.raw(), t.raw(), t.bytes());
  return copy;
}

// Initialised parameters, the base of every state_for_step.
inline Tensor initial_parameters(MiniMindModel& model, uint64_t seed) {
  model.init_weights(seed);
  return clone(model.parameters().buffer());
}

// base[i] scaled by a factor of the step, in the tensor's own dtype (f32 or f64).
inline void fill_scaled(Tensor& target, const Tensor& base, double factor) {
  const int64_t n = target.numel();
  if (target.dtype() == DType::f64) {
    for (int64_t i = 0; i < n; ++i) target.data<double>()[i] = base.data<double>()[i] * factor;
  } else {
    const auto f = static_cast<float>(factor);
    for (int64_t i = 0; i < n; ++i) target.data<float>()[i] = base.data<float>()[i] * f;
  }
}

inline double step_factor(int64_t step) { return 1.0 + static_cast<double>(step) / 1024.0; }

// Sets the model's parameters to base * f(step) and returns a trainer state of that step with every field
// set and moments derived from base.
inline TrainerState state_for_step(MiniMindModel& model, const Tensor& base, int64_t step) {
  fill_scaled(model.parameters().buffer(), base, step_factor(step));
  TrainerState state;
  state.step = step;
  state.micro_step = step * 4 + 1;
  state.epoch = step / 100;
  state.optimizer_steps = step + 2;
  state.schedule_step = step + 3;
  state.loader.epoch = static_cast<uint64_t>(step / 100);
  state.loader.cursor = static_cast<uint64_t>(step * 7);
  state.loader.seed = 42;
  state.loader.rng = {1, 2, static_cast<uint64_t>(step), ~uint64_t{0}};
  state.loader.mode = "packed";
  state.loader.seq_len = 16;
  state.loader.rows_per_epoch = 1000;
  state.loader.documents = 30;
  state.loader.tokens = 16001;
  state.rng_states["dropout"] = {0x9e3779b97f4a7c15ull, static_cast<uint64_t>(step), 0, ~uint64_t{0} - 1};
  state.rng_states["sampling"] = {7};
  state.numerical_guard = {{"skipped_in_a_row", step % 3}, {"loss_history", {2.5, 2.25, 0.1}}};
  state.best_validation_loss = 1.0 / (1.0 + static_cast<double>(step));  // not exactly representable
  state.best_validation_step = step;
  state.run_config = {{"learning_rate", 5e-4}, {"batch_size", 32}, {"mode", "pretrain"}};
  state.first_moment = Tensor::empty(base.shape(), base.dtype());
  state.second_moment = Tensor::empty(base.shape(), base.dtype());
  fill_scaled(state.first_moment, base, 0.5 * step_factor(step));
  fill_scaled(state.second_moment, base, -0.25 * step_factor(step));
  return state;
}

// Flips bits of the byte at `at` (XOR 0x10: the same call again restores it).
inline void flip_byte(const std::filesystem::path& path, uint64_t at) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(at));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x10);
  file.seekp(static_cast<std::streamoff>(at));
  file.write(&byte, 1);
  ASSERT_TRUE(file.good()) << "flipping byte " << at << " of " << path;
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// Every field of `loaded` equals the state written for `step` from `base`, bit for bit.
inline void expect_checkpoint_of_step(const LoadedCheckpoint& loaded, MiniMindModel& scratch, const Tensor& base,
                                      int64_t step) {
  const TrainerState expected = state_for_step(scratch, base, step);
  const TrainerState& got = loaded.state;
  EXPECT_TRUE(same_bytes(loaded.model->parameters().buffer(), scratch.parameters().buffer())) << "step " << step;
  EXPECT_TRUE(same_bytes(got.first_moment, expected.first_moment)) << "step " << step;
  EXPECT_TRUE(same_bytes(got.second_moment, expected.second_moment)) << "step " << step;
  EXPECT_EQ(got.step, expected.step);
  EXPECT_EQ(got.micro_step, expected.micro_step);
  EXPECT_EQ(got.epoch, expected.epoch);
  EXPECT_EQ(got.optimizer_steps, expected.optimizer_steps);
  EXPECT_EQ(got.schedule_step, expected.schedule_step);
  EXPECT_EQ(got.loader, expected.loader);
  EXPECT_EQ(got.rng_states, expected.rng_states);
  EXPECT_EQ(got.numerical_guard, expected.numerical_guard);
  ASSERT_TRUE(got.best_validation_loss.has_value());
  EXPECT_EQ(std::memcmp(&*got.best_validation_loss, &*expected.best_validation_loss, sizeof(double)), 0);
  EXPECT_EQ(got.best_validation_step, expected.best_validation_step);
  EXPECT_EQ(got.run_config, expected.run_config);
}

}  // namespace minimind::testing
