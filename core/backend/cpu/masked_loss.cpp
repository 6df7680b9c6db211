// masked loss: the loss of a forward is the mean of the per-row losses over the scored rows,
//   totals[kTotalsWeightedLoss] = sum_n losses[n] mask[n],  totals[kTotalsScored] = sum_n mask[n]
// (an undefined mask scores every row), summed in double in the order of n, as the loss was summed on the
// host before it moved to the device. Backward: d_losses[n] = scale mask[n] / scored (0 when nothing is
// scored), computed in double and rounded once. Both read the f64 step scalars directly: they are host
// tensors here.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"

namespace minimind {

void CpuBackend::do_masked_loss_totals(const Tensor& losses, const Tensor& loss_mask, Tensor& totals) {
  cpu::dispatch_floating(losses.dtype(), "masked_loss_totals", [&](auto zero) {
    using T = decltype(zero);
    const T* loss = losses.data<T>();
    const T* mask = loss_mask.defined() ? loss_mask.data<T>() : nullptr;
    const int64_t rows = losses.numel();
    double weighted = 0, scored = 0;
    for (int64_t n = 0; n < rows; ++n) {
      const double weight = mask ? static_cast<double>(mask[n]) : 1.0;
      weighted += static_cast<double>(loss[n]) * weight;
      scored += weight;
    }
    double* total = totals.data<double>();
    total[kTotalsWeightedLoss] = weighted;
    total[kTotalsScored] = scored;
  });
}

void CpuBackend::do_masked_loss_backward(const Tensor& loss_mask, const Tensor& totals, const Tensor& scale,
                                         Tensor& d_losses) {
  cpu::dispatch_floating(d_losses.dtype(), "masked_loss_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* mask = loss_mask.defined() ? loss_mask.data<T>() : nullptr;
    const double scored = totals.data<double>()[kTotalsScored];
    const double factor = scale.data<double>()[0];
    T* d = d_losses.data<T>();
    const int64_t rows = d_losses.numel();
    for (int64_t n = 0; n < rows; ++n) {
      const double weight = mask ? static_cast<double>(mask[n]) : 1.0;
      d[n] = scored > 0 ? static_cast<T>(factor * weight / scored) : T(0);
    }
  });
}

}  // namespace minimind
