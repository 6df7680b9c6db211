// cross_entropy: losses[n] = logsumexp(logits[n]) - logits[n, targets[n]]; logits [N, V], targets i32 [N],
// losses and logsumexp [N] (logsumexp saved for the backward). logsumexp = max + log(sum exp(x - max)). The
// targets are trusted (the model checks each batch on the host).
// Backward: d_logits[n] = d_losses[n] * (exp(logits[n] - logsumexp[n]) - onehot(targets[n])), overwritten;
// d_logits may be logits itself (each element is read once, then written), which saves an [N, V] buffer.
#include <Eigen/Core>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

constexpr int64_t kParallelElements = 32768;

}  // namespace

void CpuBackend::do_cross_entropy_forward(const Tensor& logits, const Tensor& targets, Tensor& losses,
                                          Tensor& logsumexp) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = logits.dim(0);
  const int64_t vocab_size = logits.dim(1);

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

void CpuBackend::do_cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                           const Tensor& logsumexp, const Tensor& d_losses,
                                           Tensor& d_logits) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = logits.dim(0);
  const int64_t vocab_size = logits.dim(1);

  cpu::dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto zero) {
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
