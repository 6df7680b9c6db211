// The memory preflight: before a training, evaluation, benchmark or generation plan allocates anything big,
// its estimate (with a safety margin) is compared with the memory available, and a plan that does not fit
// is refused with the figures and the largest batch or length that would fit. The available memory is an
// input: the system's comes from read_system_memory, a GPU's from its own free-memory query.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config/estimates.h"

namespace minimind {

struct AvailableMemory {
  int64_t bytes = 0;
  std::string source;  // where the figure comes from, for the message: "MemAvailable", "cuda:0 free memory"
};

// MemAvailable bounded by the process's memory cgroup (io/system_memory.h). Throws std::runtime_error when
// /proc/meminfo cannot be read.
AvailableMemory available_system_memory();

// What the estimate may miss: allocator overhead and scratch buffers grow with the plan (the fraction; the
// estimate-against-allocation test holds it within 5%), the program, its libraries, the data loader and the
// tokenizer do not (the reserve).
struct MemoryMargin {
  double fraction = 0.10;
  int64_t reserve_bytes = int64_t{256} << 20;
  int64_t with_margin(int64_t estimate_bytes) const;  // estimate * (1 + fraction) + reserve, saturating
};

// A plan to check, with the two sizes the suggestions may change. `estimate` must grow with both sizes.
struct MemoryRequest {
  std::string workload;  // the message's subject: "training", "evaluation", "generation", ...
  int64_t batch = 1;
  int64_t length = 1;
  // Training: micro-batches per optimizer step; a smaller batch is then suggested with the accumulation that
  // keeps batch * accumulation_steps sequences per step. 0: the workload has no accumulation.
  int64_t accumulation_steps = 0;
  // How the message names the sizes: the CLI's flags ("--batch_size") or the lab's fields ("batch size").
  std::string batch_name = "batch size";
  std::string length_name = "sequence length";
  std::string accumulation_name = "accumulation steps";
  std::function<MemoryEstimate(int64_t batch, int64_t length)> estimate;
};

struct MemoryVerdict {
  bool fits = true;
  MemoryEstimate estimate;   // at the requested batch and length
  int64_t needed_bytes = 0;  // the estimate with the margin
  int64_t available_bytes = 0;
  // When it does not fit: the largest batch that fits at the requested length, or (none fits) the longest
  // length that fits at batch 1.
  std::optional<int64_t> largest_batch;
  std::optional<int64_t> largest_length;
  // Training with a fitting smaller batch: a batch that divides batch * accumulation_steps, and the
  // accumulation steps that keep that many sequences per optimizer step.
  std::optional<int64_t> accumulation_batch;
  std::optional<int64_t> suggested_accumulation_steps;
  // Empty when the plan fits; otherwise the figures (needed, available, the biggest parts) and the
  // suggestion.
  std::string message;
};

// Throws what request.estimate throws for the requested sizes (an invalid config, a length beyond
// max_position_embeddings); the smaller sizes tried for the suggestions are valid whenever those are.
MemoryVerdict check_memory(const MemoryRequest& request, const AvailableMemory& available,
                           const MemoryMargin& margin = {});

// What to advise when a device ran out of memory although the preflight let the plan start: the plan
// against the device's whole memory (`capacity`, from device_list.h's device_capacity). When it does not fit
// even there, the verdict's message with the sizes that do; when it does, that the rest of the memory was
// held by something else (another process, another model) and what to do.
std::string out_of_memory_advice(const MemoryRequest& request, const AvailableMemory& capacity,
                                 const MemoryMargin& margin = {});

}  // namespace minimind
