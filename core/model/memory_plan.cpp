// Workload estimates from the model's plans. The parts the plans do not cover are small next to them and
// inside the preflight's margin: the host batch tensors (16 bytes per token), per-op scratch and the
// allocator's own overhead.
#include "model/memory_plan.h"

#include <algorithm>

#include "model/minimind_model.h"

namespace minimind {

MemoryEstimate training_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               const MemoryTarget& target) {
  const DType compute = target.precision.compute;
  return estimate_memory(config, batch, seq_len,
                         MiniMindModel::activation_bytes(config, batch, seq_len, compute), target);
}

MemoryEstimate evaluation_memory(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                 const MemoryTarget& target) {
  const DType compute = target.precision.compute;
  return estimate_evaluation_memory(config, batch, seq_len,
                                    MiniMindModel::activation_bytes(config, batch, seq_len, compute), target);
}

MemoryEstimate forward_memory(const ModelConfig& config, int64_t batch, int64_t seq_len, bool gradients,
                              const MemoryTarget& target) {
  MemoryEstimate estimate = evaluation_memory(config, batch, seq_len, target);
  // Copied out to the host for the output file: host memory, counted on the CPU only.
  if (target.device == Device::cpu)
    estimate.logits_bytes = logits_bytes(config, batch, seq_len, target.precision.statistic());
  if (gradients)
    estimate.gradients_bytes =
        count_parameters(config).total * static_cast<int64_t>(dtype_size(target.precision.gradient()));
  return estimate;
}

MemoryEstimate generation_memory(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                 int64_t max_new_tokens, const MemoryTarget& target) {
  // As Generator::generate sizes its cache: the last generated token is never fed back.
  const int64_t capacity = std::max(
      prompt_tokens,
      std::min(config.max_position_embeddings, prompt_tokens + std::max<int64_t>(max_new_tokens, 1) - 1));
  return estimate_generation_memory(
      config, batch, prompt_tokens, capacity,
      MiniMindModel::inference_activation_bytes(config, batch, prompt_tokens, target.precision.compute),
      target);
}

MemoryRequest training_request(const ModelConfig& config, int64_t batch, int64_t seq_len,
                               int64_t accumulation_steps, const MemoryTarget& target) {
  MemoryRequest request;
  request.workload = "training";
  request.batch = batch;
  request.length = seq_len;
  request.accumulation_steps = accumulation_steps;
  request.estimate = [config, target](int64_t b, int64_t length) {
    return training_memory(config, b, length, target);
  };
  return request;
}

MemoryRequest evaluation_request(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                 const MemoryTarget& target) {
  MemoryRequest request;
  request.workload = "evaluation";
  request.batch = batch;
  request.length = seq_len;
  request.estimate = [config, target](int64_t b, int64_t length) {
    return evaluation_memory(config, b, length, target);
  };
  return request;
}

MemoryRequest forward_request(const ModelConfig& config, int64_t batch, int64_t seq_len, bool gradients,
                              DType dtype) {
  MemoryRequest request;
  request.workload = gradients ? "the forward and backward" : "the forward";
  request.batch = batch;
  request.length = seq_len;
  const MemoryTarget target{Device::cpu, Precision{dtype}};
  request.estimate = [config, gradients, target](int64_t b, int64_t length) {
    return forward_memory(config, b, length, gradients, target);
  };
  return request;
}

MemoryRequest generation_request(const ModelConfig& config, int64_t batch, int64_t prompt_tokens,
                                 int64_t max_new_tokens, const MemoryTarget& target) {
  MemoryRequest request;
  request.workload = "generation";
  request.batch = batch;
  request.length = max_new_tokens;
  request.batch_name = "prompt batch";
  request.length_name = "new tokens";
  request.estimate = [config, prompt_tokens, target](int64_t b, int64_t new_tokens) {
    return generation_memory(config, b, prompt_tokens, new_tokens, target);
  };
  return request;
}

}  // namespace minimind
