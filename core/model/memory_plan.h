// What each workload of the model holds at its peak, by part: the model's own buffer plans
// (MiniMindModel::activation_bytes, inference_activation_bytes) composed with config/estimates' closed forms.
// These are the figures the memory preflight compares with the free memory and the Configure view shows;
// memory_plan_test holds them against what a run actually allocates.
#pragma once

#include <cstdint>

#include "config/estimates.h"
#include "config/memory_preflight.h"

namespace minimind {

// A training step (the trainer, minimind bench): weights, gradients, AdamW moments, the training plan.
MemoryEstimate training_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               DType dtype = DType::f32);
// minimind eval and validation: weights and the plan of model.forward (which is the training plan).
MemoryEstimate evaluation_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                 DType dtype = DType::f32);
// minimind forward: evaluation plus the logits copied out and, with `gradients`, the gradient buffer.
MemoryEstimate forward_memory(const ModelConfig& config, int64_t batch, int64_t seq_len, bool gradients,
                              DType dtype = DType::f32);
// Generator::generate: `batch` prompts padded to `prompt_tokens`, a KV cache for the prompt and
// max_new_tokens - 1 more positions (the context at most), the prefill's plan and logits.
MemoryEstimate generation_memory(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                 int64_t max_new_tokens, DType dtype = DType::f32);

// Preflight requests for those workloads (named in the lab's words; the CLI renames the sizes to its flags).
// Each estimate is a function of (batch, length); for generation the length is max_new_tokens.
MemoryRequest training_request(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t accumulation_steps);
MemoryRequest evaluation_request(const ModelConfig& config, int64_t batch, int64_t seq_len);
MemoryRequest forward_request(const ModelConfig& config, int64_t batch, int64_t seq_len, bool gradients,
                              DType dtype);
MemoryRequest generation_request(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                 int64_t max_new_tokens);

}  // namespace minimind
