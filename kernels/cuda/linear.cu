// Linear layers: cuBLASLt GEMMs in column-major terms (row-major [N, in] is column-major
// [in × N]), plus a column-sum kernel for the bias gradient.
//   forward  yᵀ [out × N] = op_T(W as [in × out]) · xᵀ [in × N]       (+ bias epilogue)
//   dx       dxᵀ [in × N] += W as [in × out] · dyᵀ [out × N]          (beta = 1)
//   dW       dWᵀ [in × out] += xᵀ [in × N] · op_T(dyᵀ [out × N])     (beta = 1, fp32 out)
// The bias epilogue needs a 16-byte aligned fp32 bias and an algorithm that supports it; when
// the heuristic offers none, the GEMM runs without it and bias_add_kernel adds the bias.
// Heuristic results are cached per (device, shape, types, epilogue, alignments): a training step of
// the default model makes ~400 GEMM calls and the heuristic query costs more host time than a
// small GEMM takes on the device.
// Pointer alignment is passed to the heuristic: the model's weights are views at arbitrary float
// offsets of one flat parameter buffer, and cuBLASLt otherwise assumes 256-byte aligned operands.
#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/cublaslt_api.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/linear.cuh"

namespace flare::cuda {
namespace {

template <typename T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;
}

// RAII for the cuBLASLt descriptors of one call.
struct LtMatmul {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtMatmul() {
    const CublasLtApi& lt = cublaslt();
    if (pref) lt.preference_destroy(pref);
    if (c) lt.layout_destroy(c);
    if (b) lt.layout_destroy(b);
    if (a) lt.layout_destroy(a);
    if (desc) lt.desc_destroy(desc);
  }
};

// Largest power of two (≤ 256) dividing the address.
std::uint32_t alignment(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t al = 256;
  while (al > 1 && a % al) al /= 2;
  return al;
}

using AlgoKey = std::tuple<int, bool, bool, std::uint64_t, std::uint64_t, std::uint64_t,
                           std::int64_t, std::int64_t, std::int64_t, int, int, bool, std::uint32_t,
                           std::uint32_t, std::uint32_t>;
struct AlgoCache {
  std::mutex mutex;
  std::map<AlgoKey, std::pair<bool, cublasLtMatmulHeuristicResult_t>> entries;
};
AlgoCache& algo_cache() {
  static AlgoCache cache;
  return cache;
}

// D = alpha·op(A)·op(B) + beta·C with C = D (column-major), A/B of type ab, C/D of type cd.
// Returns false (nothing launched) when a bias epilogue was asked for and no algorithm offers it.
bool lt_gemm(CudaContext& ctx, bool trans_a, bool trans_b, std::uint64_t m, std::uint64_t n,
             std::uint64_t k, const void* A, std::int64_t lda, const void* B, std::int64_t ldb,
             void* C, std::int64_t ldc, cudaDataType_t ab, cudaDataType_t cd, float beta,
             const float* bias) {
  const CublasLtApi& lt = cublaslt();
  LtMatmul op;
  FLARE_CUBLAS_CHECK(lt.desc_create(&op.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  FLARE_CUBLAS_CHECK(lt.desc_set_attribute(op.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  FLARE_CUBLAS_CHECK(lt.desc_set_attribute(op.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (bias) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    cudaDataType_t bt = CUDA_R_32F;
    FLARE_CUBLAS_CHECK(lt.desc_set_attribute(op.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    FLARE_CUBLAS_CHECK(lt.desc_set_attribute(op.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    FLARE_CUBLAS_CHECK(lt.desc_set_attribute(op.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
  }
  FLARE_CUBLAS_CHECK(lt.layout_create(&op.a, ab, trans_a ? k : m, trans_a ? m : k, lda));
  FLARE_CUBLAS_CHECK(lt.layout_create(&op.b, ab, trans_b ? n : k, trans_b ? k : n, ldb));
  FLARE_CUBLAS_CHECK(lt.layout_create(&op.c, cd, m, n, ldc));
  std::size_t ws = ctx.lt_workspace_bytes();
  const std::uint32_t al_a = alignment(A), al_b = alignment(B), al_c = alignment(C);
  const AlgoKey key{ctx.device(), trans_a, trans_b, m, n, k, lda, ldb, ldc, int(ab), int(cd),
                    bias != nullptr, al_a, al_b, al_c};
  cublasLtMatmulHeuristicResult_t heur{};
  {
    AlgoCache& cache = algo_cache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.entries.find(key);
    if (it == cache.entries.end()) {
      FLARE_CUBLAS_CHECK(lt.preference_create(&op.pref));
      FLARE_CUBLAS_CHECK(lt.preference_set_attribute(
          op.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
      FLARE_CUBLAS_CHECK(lt.preference_set_attribute(
          op.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a));
      FLARE_CUBLAS_CHECK(lt.preference_set_attribute(
          op.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b));
      FLARE_CUBLAS_CHECK(lt.preference_set_attribute(
          op.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c));
      FLARE_CUBLAS_CHECK(lt.preference_set_attribute(
          op.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c));
      int found = 0;
      cublasStatus_t st = lt.algo_get_heuristic(ctx.cublas_lt(), op.desc, op.a, op.b,
                                                         op.c, op.c, op.pref, 1, &heur, &found);
      if (!bias || (st == CUBLAS_STATUS_SUCCESS && found > 0)) {
        FLARE_CUBLAS_CHECK(st);
        FLARE_CHECK(found > 0, "cuBLASLt found no algorithm for a ", m, "x", n, "x", k, " GEMM");
      }
      it = cache.entries.emplace(key, std::make_pair(st == CUBLAS_STATUS_SUCCESS && found > 0, heur))
               .first;
    }
    if (!it->second.first) return false;  // only reachable with a bias epilogue
    heur = it->second.second;
  }
  const float alpha = 1.f;
  FLARE_CUBLAS_CHECK(lt.matmul(ctx.cublas_lt(), op.desc, &alpha, A, op.a, B, op.b, &beta, C,
                                    op.c, C, op.c, &heur.algo, ctx.lt_workspace(), ws,
                                    ctx.stream()));
  return true;
}

template <typename T>
__global__ void bias_add_kernel(T* __restrict__ y,              // [N, out]
                                const float* __restrict__ b,    // [out]
                                std::int64_t N, int out) {
  const std::int64_t total = N * out;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(to_float(y[i]) + b[i % out]);
}

// db [out] += Σ_n dy [N, out]: each block sums a slab of rows per column, then one atomicAdd per
// column and block (out ≤ a few thousand: columns are strided over the block's threads).
template <typename T>
__global__ void column_sum_kernel(const T* __restrict__ dy, std::int64_t N, int out,
                                  std::int64_t rows_per_block, float* __restrict__ db) {
  const std::int64_t r0 = std::int64_t(blockIdx.x) * rows_per_block;
  const std::int64_t r1 = r0 + rows_per_block < N ? r0 + rows_per_block : N;
  for (int c = threadIdx.x; c < out; c += blockDim.x) {
    float s = 0.f;
    for (std::int64_t r = r0; r < r1; ++r) s += to_float(dy[r * out + c]);
    atomicAdd(db + c, s);
  }
}

__global__ void cast_to_bf16_kernel(const float* __restrict__ x, bf16* __restrict__ y,
                                    std::int64_t n) {
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}

unsigned grid_for(std::int64_t n, int threads) {
  return unsigned(std::max<std::int64_t>(1, std::min<std::int64_t>((n + threads - 1) / threads, 65535)));
}

}  // namespace

template <typename T>
void linear_fwd(CudaContext& ctx, const T* x, const T* W, const float* b, T* y, std::int64_t N,
                int in, int out) {
  NVTX_RANGE_FN();
  FLARE_CHECK(in > 0 && out > 0 && N >= 0, "linear_fwd: bad shape N=", N, " in=", in, " out=", out);
  if (N == 0) return;
  bool fused = false;
  if (b && aligned(b, 16))
    fused = lt_gemm(ctx, true, false, out, N, in, W, in, x, in, y, out, data_type<T>(),
                    data_type<T>(), 0.f, b);
  if (!fused) {
    lt_gemm(ctx, true, false, out, N, in, W, in, x, in, y, out, data_type<T>(), data_type<T>(),
            0.f, nullptr);
    if (b) {
      bias_add_kernel<T><<<grid_for(N * out, 256), 256, 0, ctx.stream()>>>(y, b, N, out);
      FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
    }
  }
}

template <typename T>
void linear_bwd(CudaContext& ctx, const T* x, const T* W, const T* dy, T* dx, float* dW,
                float* db, std::int64_t N, int in, int out) {
  NVTX_RANGE_FN();
  FLARE_CHECK(in > 0 && out > 0 && N >= 0, "linear_bwd: bad shape N=", N, " in=", in, " out=", out);
  if (N == 0) return;
  if (dx)
    lt_gemm(ctx, false, false, in, N, out, W, in, dy, out, dx, in, data_type<T>(), data_type<T>(),
            1.f, nullptr);
  if (dW)
    lt_gemm(ctx, false, true, in, out, N, x, in, dy, out, dW, in, data_type<T>(), CUDA_R_32F, 1.f,
            nullptr);
  if (db) {
    const std::int64_t rows = std::max<std::int64_t>(64, (N + 4 * ctx.sm_count() - 1) / (4 * ctx.sm_count()));
    const unsigned blocks = unsigned((N + rows - 1) / rows);
    column_sum_kernel<T><<<blocks, std::min(out, 256), 0, ctx.stream()>>>(dy, N, out, rows, db);
    FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
  }
}

void cast_to_bf16(CudaContext& ctx, const float* x, bf16* y, std::int64_t n) {
  if (n <= 0) return;
  cast_to_bf16_kernel<<<grid_for(n, 256), 256, 0, ctx.stream()>>>(x, y, n);
  FLARE_CUDA_LAUNCH_CHECK(ctx.stream());
}

template void linear_fwd<float>(CudaContext&, const float*, const float*, const float*, float*,
                                std::int64_t, int, int);
template void linear_fwd<bf16>(CudaContext&, const bf16*, const bf16*, const float*, bf16*,
                               std::int64_t, int, int);
template void linear_bwd<float>(CudaContext&, const float*, const float*, const float*, float*,
                                float*, float*, std::int64_t, int, int);
template void linear_bwd<bf16>(CudaContext&, const bf16*, const bf16*, const bf16*, bf16*, float*,
                               float*, std::int64_t, int, int);

}  // namespace flare::cuda
