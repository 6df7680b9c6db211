// matmul: out [M, N] = op(a) [M, K] @ op(b) [K, N] (+ out when accumulating), row-major, through cuBLASLt.
// cuBLASLt is column-major; a row-major matrix is the column-major view of its transpose, so the product is
// computed as out^T = op(b)^T op(a)^T, with b as cuBLAS's first operand and a as its second.
// Types: f32 x f32 -> f32 and bf16 x bf16 -> bf16 or f32, all with CUBLAS_COMPUTE_32F (f32 accumulation; no
// TF32, so f32 products match the CPU to f32 rounding). Accumulation is beta = 1 on out.
// Each distinct call (shape, transposes, dtypes, accumulation, operand alignment) gets its descriptors and
// algorithm once, from cuBLASLt's heuristic; later calls reuse them. Nothing is saved for the backward.
#include <cublasLt.h>
#include <nvtx3/nvToolsExtMemCudaRt.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"

namespace minimind {
namespace {

// Tells compute-sanitizer's initcheck that `bytes` at `data` now hold values. cuBLASLt's Hopper kernels
// store their products through the tensor memory accelerator, whose writes initcheck does not follow: without
// the mark it reports every later read of a fresh product as uninitialized (CudaMatmul's fresh-memory test
// shows the product itself complete). Without a sanitizer attached the call does nothing.
void mark_initialized(void* data, size_t bytes, cudaStream_t stream) {
  static const nvtxDomainHandle_t domain = nvtxDomainCreateA("minimind");
  nvtxMemVirtualRangeDesc_t range{};
  range.ptr = data;
  range.size = bytes;
  nvtxMemMarkInitializedBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  batch.regionDescCount = 1;
  batch.regionDescElementSize = sizeof(range);
  batch.regionDescElements = &range;
  nvtxMemCudaMarkInitialized(domain, stream, 0, &batch);
}

struct MatmulKey {
  int64_t rows, inner, cols;
  bool transpose_a, transpose_b, accumulate;
  DType operand_dtype, out_dtype;
  // The largest power of two (at most 256) dividing each pointer: cuBLASLt picks kernels by it.
  uint32_t a_alignment, b_alignment, out_alignment;
  bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
  size_t operator()(const MatmulKey& key) const {
    size_t hash = 0;
    const auto mix = [&hash](uint64_t value) {
      hash ^= std::hash<uint64_t>{}(value) + 0x9E3779B97F4A7C15ull + (hash << 6) + (hash >> 2);
    };
    mix(static_cast<uint64_t>(key.rows));
    mix(static_cast<uint64_t>(key.inner));
    mix(static_cast<uint64_t>(key.cols));
    mix((key.transpose_a ? 1u : 0u) | (key.transpose_b ? 2u : 0u) | (key.accumulate ? 4u : 0u));
    mix((static_cast<uint64_t>(key.operand_dtype) << 8) | static_cast<uint64_t>(key.out_dtype));
    mix((static_cast<uint64_t>(key.a_alignment) << 32) | (static_cast<uint64_t>(key.b_alignment) << 16) |
        key.out_alignment);
    return hash;
  }
};

struct OperationDeleter {
  void operator()(cublasLtMatmulDescOpaque_t* p) const { cublasLtMatmulDescDestroy(p); }
};
struct LayoutDeleter {
  void operator()(cublasLtMatrixLayoutOpaque_t* p) const { cublasLtMatrixLayoutDestroy(p); }
};
struct PreferenceDeleter {
  void operator()(cublasLtMatmulPreferenceOpaque_t* p) const { cublasLtMatmulPreferenceDestroy(p); }
};
using Operation = std::unique_ptr<cublasLtMatmulDescOpaque_t, OperationDeleter>;
using Layout = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, LayoutDeleter>;
using Preference = std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, PreferenceDeleter>;

cudaDataType cuda_type(DType dtype) {
  return dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
}

uint32_t alignment_of(const void* pointer) {
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment) alignment /= 2;
  return alignment;
}

// A column-major layout of `rows` x `cols` with leading dimension `rows`: the row-major [cols, rows] tensor.
Layout make_layout(DType dtype, int64_t rows, int64_t cols) {
  cublasLtMatrixLayout_t layout = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, cuda_type(dtype), static_cast<uint64_t>(rows),
                                          static_cast<uint64_t>(cols), rows));
  return Layout(layout);
}

std::string describe(const MatmulKey& key) {
  return std::string(dtype_name(key.operand_dtype)) + " [" + std::to_string(key.rows) + ", " +
         std::to_string(key.inner) + "] x [" + std::to_string(key.inner) + ", " + std::to_string(key.cols) +
         "] -> " + std::string(dtype_name(key.out_dtype)) + (key.transpose_a ? ", a transposed" : "") +
         (key.transpose_b ? ", b transposed" : "") + (key.accumulate ? ", accumulating" : "") +
         ", alignments " + std::to_string(key.a_alignment) + "/" + std::to_string(key.b_alignment) + "/" +
         std::to_string(key.out_alignment) + " bytes";
}

// Descriptors and the chosen algorithm of one call's shape. cuBLAS's operands: first = b (stored as the
// column-major [b.dim(1), b.dim(0)]), second = a (likewise), out the column-major [N, M].
struct MatmulPlan {
  Operation operation;
  Layout first, second, out;
  cublasLtMatmulAlgo_t algo{};

  MatmulPlan(cublasLtHandle_t handle, const MatmulKey& key, size_t workspace_bytes) {
    cublasLtMatmulDesc_t operation_handle = nullptr;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&operation_handle, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    operation.reset(operation_handle);
    const cublasOperation_t transpose_first = key.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t transpose_second = key.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation.get(), CUBLASLT_MATMUL_DESC_TRANSA,
                                                &transpose_first, sizeof(transpose_first)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation.get(), CUBLASLT_MATMUL_DESC_TRANSB,
                                                &transpose_second, sizeof(transpose_second)));
    // b is [K, N] (or [N, K] transposed), a is [M, K] (or [K, M]); each is stored as its column-major
    // transpose.
    first = key.transpose_b ? make_layout(key.operand_dtype, key.inner, key.cols)
                            : make_layout(key.operand_dtype, key.cols, key.inner);
    second = key.transpose_a ? make_layout(key.operand_dtype, key.rows, key.inner)
                             : make_layout(key.operand_dtype, key.inner, key.rows);
    out = make_layout(key.out_dtype, key.cols, key.rows);

    cublasLtMatmulPreference_t preference_handle = nullptr;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference_handle));
    const Preference preference(preference_handle);
    const uint64_t max_workspace = workspace_bytes;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_workspace, sizeof(max_workspace)));
    const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.b_alignment},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.a_alignment},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.out_alignment},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.out_alignment},
    };
    for (const auto& [attribute, bytes] : alignments)
      CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference.get(), attribute, &bytes, sizeof(bytes)));

    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, operation.get(), first.get(), second.get(), out.get(),
                                                out.get(), preference.get(), 1, &result, &found));
    if (found < 1) throw CudaError("matmul: cuBLASLt offers no algorithm for " + describe(key));
    algo = result.algo;
  }
};

}  // namespace

struct MatmulPlanCache {
  std::unordered_map<MatmulKey, std::unique_ptr<MatmulPlan>, MatmulKeyHash> plans;
};

void MatmulPlanCacheDeleter::operator()(MatmulPlanCache* cache) const {
  delete cache;
}

void CudaBackend::do_matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, Tensor& out,
                            bool accumulate) {
  const int64_t rows = out.dim(0), cols = out.dim(1);
  const int64_t inner = transpose_a ? a.dim(0) : a.dim(1);
  if (rows == 0 || cols == 0) return;
  if (inner == 0) {
    // An empty sum: out = 0, or out unchanged when accumulating.
    if (!accumulate) CUDA_CHECK(cudaMemsetAsync(out.raw(), 0, out.bytes(), stream_));
    return;
  }
  const MatmulKey key{rows,
                      inner,
                      cols,
                      transpose_a,
                      transpose_b,
                      accumulate,
                      a.dtype(),
                      out.dtype(),
                      alignment_of(a.raw()),
                      alignment_of(b.raw()),
                      alignment_of(out.raw())};
  if (!matmul_plans_) matmul_plans_.reset(new MatmulPlanCache);
  std::unique_ptr<MatmulPlan>& plan = matmul_plans_->plans[key];
  if (!plan) {
    try {
      plan = std::make_unique<MatmulPlan>(cublas_lt_, key, workspace_bytes_);
    } catch (...) {
      matmul_plans_->plans.erase(key);
      throw;
    }
  }
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(cublas_lt_, plan->operation.get(), &alpha, b.raw(), plan->first.get(), a.raw(),
                              plan->second.get(), &beta, out.raw(), plan->out.get(), out.raw(),
                              plan->out.get(), &plan->algo, workspace_, workspace_bytes_, stream_));
  mark_initialized(out.raw(), out.bytes(), stream_);
}

}  // namespace minimind
