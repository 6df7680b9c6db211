// matmul: out [M, N] = op(a) @ op(b) (+ out when accumulating), op(x) = x or x^T, all row-major 2-D.
// The product is Eigen's blocked GEMM over maps of the tensors (no copies, transposes are free views); called
// outside an OpenMP region, Eigen runs it on the backend's OpenMP threads itself. Nothing is saved: the
// backward of a product is two more products, composed by the caller. Eigen's noalias() product needs out
// apart from the operands, which the argument checks ensure.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/dispatch.h"
#include "backend/cpu/openmp_thread_scope.h"

namespace minimind {
namespace {

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Calls fn with the matrix or its transpose, so that each of the four products is a distinct Eigen type.
template <typename Matrix, typename Fn>
void with_op(const Matrix& matrix, bool transpose, Fn&& fn) {
  if (transpose) {
    fn(matrix.transpose());
  } else {
    fn(matrix);
  }
}

}  // namespace

void CpuBackend::do_matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
                           bool accumulate) {
  const cpu::OpenMpThreadScope thread_scope(threads_);
  const int64_t rows = transpose_a ? a.dim(1) : a.dim(0);
  const int64_t inner = transpose_a ? a.dim(0) : a.dim(1);
  const int64_t columns = transpose_b ? b.dim(0) : b.dim(1);

  cpu::dispatch_floating(a.dtype(), "matmul", [&](auto zero) {
    using T = decltype(zero);
    using ConstMap = Eigen::Map<const RowMajorMatrix<T>>;
    const ConstMap a_matrix(a.data<T>(), a.dim(0), a.dim(1));
    const ConstMap b_matrix(b.data<T>(), b.dim(0), b.dim(1));
    Eigen::Map<RowMajorMatrix<T>> out_matrix(out.data<T>(), rows, columns);
    // A few rows times a weight matrix (decoding one token): Eigen runs matrix-vector products on one
    // thread, so split the weight's rows (the output columns) between the threads.
    if (rows <= 4 && !transpose_a && transpose_b && columns * inner >= (1 << 15) && omp_get_max_threads() > 1 &&
        !omp_in_parallel()) {
#pragma omp parallel
      {
        const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
        const int64_t chunk = ((columns + threads - 1) / threads + 15) / 16 * 16;
        const int64_t begin = std::min(columns, thread * chunk), end = std::min(columns, begin + chunk);
        if (end > begin) {
          auto out_block = out_matrix.middleCols(begin, end - begin);
          const auto rhs = b_matrix.middleRows(begin, end - begin).transpose();
          if (accumulate)
            out_block.noalias() += a_matrix * rhs;
          else
            out_block.noalias() = a_matrix * rhs;
        }
      }
      return;
    }
    with_op(a_matrix, transpose_a, [&](const auto& lhs) {
      with_op(b_matrix, transpose_b, [&](const auto& rhs) {
        if (accumulate) {
          out_matrix.noalias() += lhs * rhs;
        } else {
          out_matrix.noalias() = lhs * rhs;
        }
      });
    });
  });
}

}  // namespace minimind
