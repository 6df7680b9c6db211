// cross_entropy: losses[n] = logsumexp(logits[n]) - logits[n, targets[n]]; logits [N, V], targets i32 [N],
// losses and logsumexp [N] (logsumexp saved for the backward). logsumexp = max + log(sum exp(x - max)).
// Backward: d_logits[n] = d_losses[n] * (exp(logits[n] - logsumexp[n]) - onehot(targets[n])), overwritten;
// d_logits may be logits itself (each element is read once, then written), which saves an [N, V] buffer.
#include <Eigen/Core>
#include <cmath>
#include <stdexcept>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

// Every target is checked before anything is written.
void expect_targets_in_range(const Tensor& targets, int64_t vocab_size, std::string_view op) {
  const int32_t* values = targets.data<int32_t>();
  for (int64_t n = 0; n < targets.numel(); ++n) {
    if (values[n] < 0 || values[n] >= vocab_size)
      throw std::invalid_argument(std::string(op) + ": argument 'targets' holds " +
                                  std::to_string(values[n]) + " at position " + std::to_string(n) +
                                  ", outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
  }
}

}  // namespace

void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                       Tensor& logsumexp) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  expect_rank(logits, 2, "cross_entropy_forward", "logits");
  const int64_t rows = logits.dim(0);
  const int64_t vocab_size = logits.dim(1);
  expect_shape(targets, {rows}, "cross_entropy_forward", "targets");
  expect_dtype(targets, DType::i32, "cross_entropy_forward", "targets");
  expect_shape(losses, {rows}, "cross_entropy_forward", "losses");
  expect_dtype(losses, logits.dtype(), "cross_entropy_forward", "losses");
  expect_shape(logsumexp, {rows}, "cross_entropy_forward", "logsumexp");
  expect_dtype(logsumexp, logits.dtype(), "cross_entropy_forward", "logsumexp");
  expect_targets_in_range(targets, vocab_size, "cross_entropy_forward");

  cpu::dispatch_floating(logits.dtype(), "cross_entropy_forward", [&](auto zero) {
    using T = decltype(zero);
    using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
    const T* logit_values = logits.data<T>();
    const int32_t* target_values = targets.data<int32_t>();
    T* loss_values = losses.data<T>();
    T* logsumexp_values = logsumexp.data<T>();
#pragma omp parallel for schedule(static) if (rows * vocab_size > kParallelElements)
    for (int64_t n = 0; n < rows; ++n) {
      const Eigen::Map<const Row> row(logit_values + n * vocab_size, vocab_size);
      // Subtracting the maximum keeps every exp in (0, 1]; the row is still in cache for the second pass.
      const T max_logit = row.maxCoeff();
      const T sum = (row - max_logit).exp().sum();
      const T row_logsumexp = max_logit + std::log(sum);
      logsumexp_values[n] = row_logsumexp;
      loss_values[n] = row_logsumexp - row[target_values[n]];
    }
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& logsumexp,
                                        const Tensor& d_losses, Tensor& d_logits) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  expect_rank(logits, 2, "cross_entropy_backward", "logits");
  const int64_t rows = logits.dim(0);
  const int64_t vocab_size = logits.dim(1);
  const DType dtype = logits.dtype();
  expect_shape(targets, {rows}, "cross_entropy_backward", "targets");
  expect_dtype(targets, DType::i32, "cross_entropy_backward", "targets");
  expect_shape(logsumexp, {rows}, "cross_entropy_backward", "logsumexp");
  expect_dtype(logsumexp, dtype, "cross_entropy_backward", "logsumexp");
  expect_shape(d_losses, {rows}, "cross_entropy_backward", "d_losses");
  expect_dtype(d_losses, dtype, "cross_entropy_backward", "d_losses");
  expect_shape(d_logits, logits.shape(), "cross_entropy_backward", "d_logits");
  expect_dtype(d_logits, dtype, "cross_entropy_backward", "d_logits");
  expect_targets_in_range(targets, vocab_size, "cross_entropy_backward");

  cpu::dispatch_floating(dtype, "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
    const T* logit_values = logits.data<T>();
    const int32_t* target_values = targets.data<int32_t>();
    const T* logsumexp_values = logsumexp.data<T>();
    const T* d_loss_values = d_losses.data<T>();
    T* d_logit_values = d_logits.data<T>();
#pragma omp parallel for schedule(static) if (rows * vocab_size > kParallelElements)
    for (int64_t n = 0; n < rows; ++n) {
      const Eigen::Map<const Row> row(logit_values + n * vocab_size, vocab_size);
      Eigen::Map<Row> d_row(d_logit_values + n * vocab_size, vocab_size);
      const T d_loss = d_loss_values[n];
      // Coefficient-wise, so d_row may be row itself.
      d_row = d_loss * (row - logsumexp_values[n]).exp();
      d_row[target_values[n]] -= d_loss;
    }
  });
}

}  // namespace minimind
