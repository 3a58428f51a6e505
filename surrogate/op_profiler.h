// Where a model's time goes, op by op, on any backend: a decorator OpTable whose every op
// synchronises the backend before and after calling the real op, and adds the wall time to that
// op's row (GEMMs are told apart by their shape). The device has nsys-free hosts, and a step of
// ~100 kernels is hard to read from totals alone.
//
// Synchronising around each op serialises launches, so each row is the op's device time plus one
// launch latency (a few µs): right for finding the expensive ops, not for timing whole steps
// (bench model's own rows do that). Disabled, the decorator only forwards the call.
//
// The decorated table's ctx is the profiler; its Memory is the inner table's (Memory carries its
// own ctx), so buffers and transfers are unchanged.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "surrogate/ops_table.h"

namespace flare::surrogate {

/// One row of a profile: an op (and for linear ops their in×out shape), its calls and total time.
struct OpTime {
  std::string op;
  std::int64_t calls = 0;
  double ms = 0.0;
};

// Every op of OpTable, in one list for the decorator (a new op added to OpTable and not here
// stays undecorated: its calls would run but not be counted; tests check the list is whole).
#define FLARE_OPTABLE_OPS(X)                                                                  \
  X(linear_fwd) X(linear_bwd) X(gelu_fwd) X(gelu_bwd) X(layernorm_fwd) X(layernorm_bwd)       \
  X(latent_layernorm_fwd) X(latent_layernorm_bwd) X(add) X(gelu_add_fwd) X(residual_mlp_fwd)  \
  X(residual_mlp_bwd) X(flare_encode_fwd) X(flare_decode_fwd) X(flare_decode_bwd)             \
  X(flare_encode_bwd) X(flare_mixer_bwd) X(cast_to_act) X(mse_fwd) X(mse_bwd) X(rel_l2_fwd)   \
  X(rel_l2_bwd) X(sum_squares) X(adamw_step) X(ema_update) X(map_columns) \
  X(map_columns_p)

namespace detail {
/// An op's name as a template argument (a string literal cannot be one).
template <std::size_t N>
struct OpName {
  char s[N];
  constexpr OpName(const char (&a)[N]) { std::copy_n(a, N, s); }
};
}  // namespace detail

template <typename A, typename P = A>
class OpProfiler {
 public:
  using Table = OpTable<A, P>;

  explicit OpProfiler(const Table& inner) : m_inner(inner), m_table(inner) {
    m_table.ctx = this;
#define FLARE_DECORATE(name) \
  if (m_inner.name) m_table.name = &Timed<&Table::name, #name, decltype(Table::name)>::call;
    FLARE_OPTABLE_OPS(FLARE_DECORATE)
#undef FLARE_DECORATE
  }
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;

  /// The table to build the model on. Valid while the profiler lives.
  const Table& ops() const { return m_table; }

  /// Off: calls are forwarded without synchronising or counting (for timing runs on the same
  /// model and buffers).
  void set_enabled(bool on) { m_enabled = on; }
  void reset() { m_rows.clear(); }

  /// Rows by total time, largest first.
  std::vector<OpTime> times() const {
    std::vector<OpTime> v;
    for (const auto& [key, row] : m_rows) v.push_back(row);
    std::stable_sort(v.begin(), v.end(), [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; });
    return v;
  }

 private:
  // Linear ops are keyed by shape (their last two arguments are in and out), so the profile
  // separates the C×C GEMMs from the input and output projections.
  template <typename... Args>
  static std::string key(const char* name, const std::tuple<Args...>& args) {
    std::string k = name;
    if constexpr (sizeof...(Args) >= 2) {
      using In = std::tuple_element_t<sizeof...(Args) - 2, std::tuple<Args...>>;
      using Out = std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>;
      if constexpr (std::is_same_v<In, int> && std::is_same_v<Out, int>) {
        if (k.rfind("linear_", 0) == 0)
          k += " " + std::to_string(std::get<sizeof...(Args) - 2>(args)) + "x" +
               std::to_string(std::get<sizeof...(Args) - 1>(args));
      }
    }
    return k;
  }

  template <auto Field, detail::OpName N, typename Fn>
  struct Timed;
  template <auto Field, detail::OpName N, typename R, typename... Args>
  struct Timed<Field, N, R (*)(void*, Args...)> {
    static R call(void* ctx, Args... args) {
      auto& self = *static_cast<OpProfiler*>(ctx);
      const Table& in = self.m_inner;
      if (!self.m_enabled) return (in.*Field)(in.ctx, args...);
      in.mem.synchronize(in.mem.ctx);
      const auto t0 = std::chrono::steady_clock::now();
      auto finish = [&] {
        in.mem.synchronize(in.mem.ctx);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const std::string k = key(N.s, std::tuple<Args...>(args...));
        OpTime& row = self.m_rows[k];
        row.op = k;
        row.calls += 1;
        row.ms += ms;
      };
      if constexpr (std::is_void_v<R>) {
        (in.*Field)(in.ctx, args...);
        finish();
      } else {
        R r = (in.*Field)(in.ctx, args...);
        finish();
        return r;
      }
    }
  };

  Table m_inner, m_table;
  bool m_enabled = true;
  std::map<std::string, OpTime> m_rows;
};

}  // namespace flare::surrogate
