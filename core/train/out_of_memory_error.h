// An allocation failure during a training run, with what the run was doing when it happened. It is still a
// std::bad_alloc, so every handler of allocation failures catches it; what() names the phase and the step.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

namespace minimind {

class OutOfMemoryError : public std::bad_alloc {
 public:
  // phase: what the run was doing, e.g. "running the forward pass"; step: the optimizer step (from 1).
  OutOfMemoryError(const std::string& phase, int64_t step)
      : phase_(phase),
        message_("out of memory while " + phase + " at step " + std::to_string(step)),
        step_(step) {}

  const char* what() const noexcept override { return message_.what(); }
  const char* phase() const noexcept { return phase_.what(); }
  int64_t step() const noexcept { return step_; }

 private:
  // std::runtime_error holds its text in a reference-counted string: copying the exception cannot throw.
  std::runtime_error phase_;
  std::runtime_error message_;
  int64_t step_;
};

}  // namespace minimind
