// What each workload of the model holds at its peak, by part: the model's own buffer plans
// (MiniMindModel::activation_bytes, inference_activation_bytes) composed with config/estimates' closed forms,
// on a target (the CPU in f32 by default; a GPU in bf16 mixed precision with MemoryTarget::for_device).
// These are the figures the memory preflight compares with the free memory and the Configure view shows;
// memory_plan_test holds the CPU's against what a run actually allocates.
#pragma once

#include <cstdint>

#include "config/estimates.h"
#include "config/memory_preflight.h"

namespace minimind {

// A training step (the trainer, minimind bench): weights (and their compute copy), gradients, AdamW
// moments, the training plan in the target's compute dtype, and a GPU's buffers.
MemoryEstimate training_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               const MemoryTarget& target = {});
// minimind eval and validation: weights and the plan of model.forward (which is the training plan).
MemoryEstimate evaluation_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                 const MemoryTarget& target = {});
// minimind forward: evaluation plus the logits copied out (on the CPU) and, with `gradients`, the gradient
// buffer.
MemoryEstimate forward_memory(const ModelConfig& config, int64_t batch, int64_t seq_len, bool gradients,
                              const MemoryTarget& target = {});
// Generator::generate: `batch` prompts padded to `prompt_tokens`, a KV cache for the prompt and
// max_new_tokens - 1 more positions (the context at most), the prefill's plan and logits.
MemoryEstimate generation_memory(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                 int64_t max_new_tokens, const MemoryTarget& target = {});

// Preflight requests for those workloads (named in the lab's words; the CLI renames the sizes to its flags).
// Each estimate is a function of (batch, length); for generation the length is max_new_tokens.
MemoryRequest training_request(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t accumulation_steps, const MemoryTarget& target = {});
MemoryRequest evaluation_request(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                 const MemoryTarget& target = {});
// minimind forward's --dtype (f32 or f64, on the CPU).
MemoryRequest forward_request(const ModelConfig& config, int64_t batch, int64_t seq_len, bool gradients,
                              DType dtype);
MemoryRequest generation_request(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                 int64_t max_new_tokens, const MemoryTarget& target = {});

}  // namespace minimind
