// The GPU's training estimate against the CPU's, part by part: they differ by exactly the roles precision.h
// documents for bf16 mixed precision (a bf16 copy of the weights, activations planned in bf16) and the CUDA
// backend's own buffers; everything held in f32 on both is equal. And the preflight of a GPU run against a
// fake free-memory figure (no GPU needed): the message names the GPU and suggests a batch that fits, checked
// against the estimate itself.
#include <gtest/gtest.h>

#include "config/presets.h"
#include "model/memory_plan.h"
#include "model/minimind_model.h"

namespace minimind {
namespace {

const MemoryTarget kGpu = MemoryTarget::for_device(Device::cuda);

TEST(MemoryPlanOnAGpu, DiffersFromTheCpusByTheDocumentedRoles) {
  for (const char* name : {"tiny", "small", "moe"}) {
    const ModelConfig config = preset(name);
    const int64_t batch = 4, seq_len = 256;
    const int64_t parameters = count_parameters(config).total;
    const MemoryEstimate cpu = training_memory(config, batch, seq_len);
    const MemoryEstimate gpu = training_memory(config, batch, seq_len, kGpu);
    // f32 on both: the master weights, their gradients, AdamW's moments, the RoPE tables.
    EXPECT_EQ(gpu.weights_bytes, cpu.weights_bytes) << name;
    EXPECT_EQ(gpu.gradients_bytes, cpu.gradients_bytes) << name;
    EXPECT_EQ(gpu.optimizer_bytes, cpu.optimizer_bytes) << name;
    EXPECT_EQ(gpu.rope_tables_bytes, cpu.rope_tables_bytes) << name;
    // bf16 compute: the products read a bf16 copy of the weights; the activations are the model's bf16 plan.
    EXPECT_EQ(cpu.compute_weights_bytes, 0) << name;
    EXPECT_EQ(gpu.compute_weights_bytes, 2 * parameters) << name;
    EXPECT_EQ(cpu.activations_bytes, MiniMindModel::activation_bytes(config, batch, seq_len, DType::f32))
        << name;
    EXPECT_EQ(gpu.activations_bytes, MiniMindModel::activation_bytes(config, batch, seq_len, DType::bf16))
        << name;
    // The CUDA backend's workspace and staging (the batch's device copies are the plan's).
    EXPECT_EQ(cpu.gpu_buffers_bytes, 0) << name;
    EXPECT_EQ(gpu.gpu_buffers_bytes, kGpuWorkspaceBytes + kGpuStagingBytes) << name;
    EXPECT_EQ(gpu.total() - cpu.total(), gpu.compute_weights_bytes + gpu.gpu_buffers_bytes +
                                             (gpu.activations_bytes - cpu.activations_bytes))
        << name;
  }
}

TEST(MemoryPlanOnAGpu, ThePreflightNamesTheGpuAndSuggestsABatchThatFits) {
  const ModelConfig config = preset("small");
  const int64_t seq_len = 1024;
  const MemoryMargin margin;
  // Free memory for exactly 7 sequences of 1024 tokens, as the GPU's own estimate counts them.
  const int64_t free_bytes = margin.with_margin(training_memory(config, 7, seq_len, kGpu).total());
  const AvailableMemory gpu_free{free_bytes, "cuda:0 free memory, NVIDIA H100 80GB HBM3"};
  const MemoryVerdict verdict = check_memory(training_request(config, 64, seq_len, 2, kGpu), gpu_free);
  ASSERT_FALSE(verdict.fits);
  EXPECT_EQ(verdict.estimate.total(), training_memory(config, 64, seq_len, kGpu).total());
  EXPECT_EQ(verdict.largest_batch, 7);
  EXPECT_NE(verdict.message.find("is available (cuda:0 free memory, NVIDIA H100 80GB HBM3)"),
            std::string::npos)
      << verdict.message;
  EXPECT_NE(verdict.message.find("The largest batch size that fits at sequence length 1024 is 7"),
            std::string::npos)
      << verdict.message;
  // 128 sequences per step: 4 x 32 keeps the step.
  EXPECT_NE(verdict.message.find("batch size 4 with accumulation steps 32 to keep 128 sequences"),
            std::string::npos)
      << verdict.message;
  // The GPU's own figure decides: the CPU's f32 estimate at 7 sequences needs more than that memory.
  EXPECT_FALSE(check_memory(training_request(config, 7, seq_len, 2), gpu_free).fits);
}

}  // namespace
}  // namespace minimind
