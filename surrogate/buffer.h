// Where a backend's tensors live, and an owning buffer there.
//
// The model and the trainer are written once over raw pointers; whether those pointers are host
// memory (cpu and ref tiers) or device memory (CUDA) is decided by the backend's Memory table.
// Transfers are explicit (upload/download at batch and checkpoint boundaries: STYLE.md point 7,
// mfem's naming of intent without its implicit validity tracking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/error.h"

namespace flare::surrogate {

/// Memory operations of a backend, byte-level so one table serves every element type. `ctx` is the
/// backend's context (nullptr on the host, a CudaContext* for CUDA). Every allocation is zeroed.
struct Memory {
  void* ctx = nullptr;
  bool host = true;  ///< pointers are host memory (the caller may read them directly)
  void* (*alloc)(void* ctx, std::size_t bytes, const char* what) = nullptr;
  void (*release)(void* ctx, void* p, std::size_t bytes) noexcept = nullptr;
  void (*zero)(void* ctx, void* p, std::size_t bytes) = nullptr;
  /// dst, src both in this memory (may not overlap).
  void (*copy)(void* ctx, void* dst, const void* src, std::size_t bytes) = nullptr;
  void (*upload)(void* ctx, void* dst, const void* host_src, std::size_t bytes) = nullptr;
  void (*download)(void* ctx, void* host_dst, const void* src, std::size_t bytes) = nullptr;
  /// Waits for queued work (timing); a no-op on the host.
  void (*synchronize)(void* ctx) = nullptr;
  /// Bytes that can still be allocated (device memory free now; SIZE_MAX on the host, where the
  /// operating system decides).
  std::size_t (*free_bytes)(void* ctx) = nullptr;
};

/// Host memory: 64-byte aligned new/delete, memset, memcpy.
Memory host_memory();

/// Owning, move-only array of T in a backend's memory that only grows (contents are discarded on
/// growth): activations and scratch reach the largest batch seen and are then reused, so a steady
/// training loop allocates nothing.
template <typename T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Memory& mem, std::int64_t n, const char* what = "buffer") { ensure(mem, n, what); }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept
      : m_mem(o.m_mem),
        m_data(std::exchange(o.m_data, nullptr)),
        m_size(std::exchange(o.m_size, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      m_mem = o.m_mem;
      m_data = std::exchange(o.m_data, nullptr);
      m_size = std::exchange(o.m_size, 0);
    }
    return *this;
  }

  /// At least n elements (zeroed when newly allocated).
  void ensure(const Memory& mem, std::int64_t n, const char* what = "buffer") {
    if (n <= m_size && m_data) return;
    release();
    m_mem = mem;
    if (n > 0) m_data = static_cast<T*>(mem.alloc(mem.ctx, std::size_t(n) * sizeof(T), what));
    m_size = n > 0 ? n : 0;
  }
  void zero(std::int64_t n) {
    FLARE_CHECK(n <= m_size, "Buffer::zero of ", n, " elements in a buffer of ", m_size);
    if (n > 0) m_mem.zero(m_mem.ctx, m_data, std::size_t(n) * sizeof(T));
  }
  void upload(const T* host, std::int64_t n) {
    FLARE_CHECK(n <= m_size, "Buffer::upload of ", n, " elements into a buffer of ", m_size);
    if (n > 0) m_mem.upload(m_mem.ctx, m_data, host, std::size_t(n) * sizeof(T));
  }
  void download(T* host, std::int64_t n) const {
    FLARE_CHECK(n <= m_size, "Buffer::download of ", n, " elements from a buffer of ", m_size);
    if (n > 0) m_mem.download(m_mem.ctx, host, m_data, std::size_t(n) * sizeof(T));
  }
  std::vector<T> to_host(std::int64_t n) const {
    std::vector<T> v(static_cast<std::size_t>(n));
    download(v.data(), n);
    return v;
  }

  T* data() { return m_data; }
  const T* data() const { return m_data; }
  std::int64_t size() const { return m_size; }
  std::int64_t bytes() const { return m_size * std::int64_t(sizeof(T)); }

 private:
  void release() noexcept {
    if (m_data) m_mem.release(m_mem.ctx, m_data, std::size_t(m_size) * sizeof(T));
    m_data = nullptr;
    m_size = 0;
  }
  Memory m_mem;
  T* m_data = nullptr;
  std::int64_t m_size = 0;
};

}  // namespace flare::surrogate
