// Where the lattice solver's loops run: `forall(n, f)` calls f(i) for i in [0, n), and
// `part_sum` sums f(i) over each part's node range in a fixed order (deterministic for a given
// device). HostExec runs them with OpenMP; CudaExec (exec_cuda.cuh) launches kernels. The solver
// (solver_impl.h) is written once against this interface, so its CPU build is the test oracle of
// its GPU build, operation for operation.
//
// Why a forall layer here, where kernels/ hand-writes every kernel: the solver's loops are
// gathers over a 27-point neighbourhood with no tiling or shared-memory choreography to hand-tune,
// and having the identical algorithm run in CI without a GPU is worth more than the few percent a
// hand-written launch could gain (mfem's device model, for the same reason).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#ifdef __CUDACC__
#define FLARE_HD __host__ __device__
#else
#define FLARE_HD
#endif

namespace flare::am::lattice {

/// Nodes per reduction chunk; each part's node range starts on a chunk boundary.
inline constexpr int kChunk = 128;

template <typename T>
struct Vec3 {
  T v[3];
};

/// The order in which forall_node_cells adds a node's 8 cell terms: the GPU's butterfly over 8
/// lanes (xor 4, 2, 1, own value first), so both devices sum alike.
template <typename T>
FLARE_HD inline Vec3<T> sum_cells(const Vec3<T> a[8]) {
  Vec3<T> s;
  for (int c = 0; c < 3; ++c)
    s.v[c] = ((a[0].v[c] + a[4].v[c]) + (a[2].v[c] + a[6].v[c])) + ((a[1].v[c] + a[5].v[c]) + (a[3].v[c] + a[7].v[c]));
  return s;
}

struct HostExec {
  template <typename T>
  class Array {
   public:
    void resize(std::size_t n, const char* = nullptr) { m_v.assign(n, T{}); }
    void upload(const std::vector<T>& host) { m_v = host; }
    void upload_part(const T* host, std::size_t offset, std::size_t n) {
      if (n) std::memcpy(m_v.data() + offset, host, n * sizeof(T));
    }
    std::vector<T> download() const { return m_v; }
    void download_part(T* host, std::size_t offset, std::size_t n) const {
      if (n) std::memcpy(host, m_v.data() + offset, n * sizeof(T));
    }
    void zero() { std::fill(m_v.begin(), m_v.end(), T{}); }
    T* data() { return m_v.data(); }
    const T* data() const { return m_v.data(); }
    std::size_t size() const { return m_v.size(); }

   private:
    std::vector<T> m_v;
  };

  template <typename F>
  void forall(std::int64_t n, const F& f) const {
#pragma omp parallel for schedule(static) if (n > 4096)
    for (std::int64_t i = 0; i < n; ++i) f(i);
  }

  /// f(list[i]) for i in [0, n), skipping the padding entries (-1).
  template <typename F>
  void forall_list(const std::int64_t* list, std::int64_t n, const F& f) const {
#pragma omp parallel for schedule(static) if (n > 4096)
    for (std::int64_t i = 0; i < n; ++i)
      if (list[i] >= 0) f(list[i]);
  }

  /// finish(n, sum over d < 8 of cell(n, d)) for the list's nodes n: a node's 8 cells are 8
  /// threads on the GPU (the per-node gather is too long a chain for one thread at LPBF sizes).
  template <typename T, typename C, typename F>
  void forall_node_cells(const std::int64_t* list, std::int64_t n, const C& cell, const F& finish) const {
#pragma omp parallel for schedule(static) if (n > 512)
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t node = list[i];
      if (node < 0) continue;
      Vec3<T> a[8];
      for (int d = 0; d < 8; ++d) a[d] = cell(node, d);
      finish(node, sum_cells(a));
    }
  }

  /// out[p] = sum of f(list[i]) over the list entries of part p: chunks [chunk_begin[p],
  /// chunk_begin[p + 1]) of kChunk entries, summed within a chunk in list order, then chunk by
  /// chunk; padding entries (-1) add nothing. partial: [chunks] scratch.
  template <typename F>
  void part_sum(int parts, const std::int64_t* chunk_begin, std::int64_t chunks, const std::int64_t* list,
                double* partial, double* out, const F& f) const {
#pragma omp parallel for schedule(static) if (chunks > 64)
    for (std::int64_t c = 0; c < chunks; ++c) {
      double s = 0;
      for (int t = 0; t < kChunk; ++t) {
        const std::int64_t n = list[c * kChunk + t];
        s += n >= 0 ? f(n) : 0.0;
      }
      partial[c] = s;
    }
    for (int p = 0; p < parts; ++p) {
      double s = 0;
      for (std::int64_t c = chunk_begin[p]; c < chunk_begin[p + 1]; ++c) s += partial[c];
      out[p] = s;
    }
  }

  /// Inverts `count` symmetric positive definite n x n matrices in place (row-major, one after
  /// the other), by Gauss-Jordan without pivoting. fp32: the inverse only preconditions (the
  /// V-cycle is fp32), and in fp32 a 192 x 192 matrix fits in a GPU block's shared memory.
  void invert_spd(float* a, int n, int count) const {
#pragma omp parallel for schedule(static) if (count > 1)
    for (int m = 0; m < count; ++m) {
      float* x = a + std::int64_t(m) * n * n;
      for (int k = 0; k < n; ++k) {
        const float piv = x[std::int64_t(k) * n + k];
        for (int j = 0; j < n; ++j)
          if (j != k) x[std::int64_t(k) * n + j] /= piv;
        for (int i = 0; i < n; ++i) {
          if (i == k) continue;
          const float f = x[std::int64_t(i) * n + k];
          if (f != 0)
            for (int j = 0; j < n; ++j)
              if (j != k) x[std::int64_t(i) * n + j] -= f * x[std::int64_t(k) * n + j];
        }
        for (int i = 0; i < n; ++i)
          if (i != k) x[std::int64_t(i) * n + k] = -x[std::int64_t(i) * n + k] / piv;
        x[std::int64_t(k) * n + k] = 1 / piv;
      }
    }
  }

  /// A recorded sequence of loops, replayed by graph() (CudaExec: a CUDA graph). On the host
  /// there is nothing to record: graph() runs f.
  struct Graph {};
  template <typename F>
  void graph(Graph&, const F& f) const {
    f();
  }

  /// Waits for queued work (nothing to wait for on the host).
  void synchronize() const {}
};

}  // namespace flare::am::lattice
