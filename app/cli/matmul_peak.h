// The device's attainable matrix-product rate, measured rather than taken from a datasheet: the median of a
// few square products in the compute dtype, large enough to fill the device. The benchmark's MFU is its
// achieved FLOP/s over this figure.
#pragma once

#include "backend/backend.h"

namespace minimind::cli {

struct MatmulPeak {
  int64_t size = 0;           // the square products' side
  double flops_per_s = 0;
};

MatmulPeak measure_matmul_peak(Backend& backend, DType dtype);

}  // namespace minimind::cli
