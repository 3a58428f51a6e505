// ordered_parallel: work on items in parallel, consume the results in item order.
//
// Why: a dataset build reads thousands of small meshes; one mesh is too small to keep 16 threads
// busy inside its reader and feature code, but one mesh per thread is. The results must still be
// written and accumulated (statistics) in input order, so that the output does not depend on the
// thread count, and the first bad input in order is the one reported.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <vector>

namespace flare {

/// Calls work(i) for i in [0, n) on OpenMP threads, `window` items at a time, then consume(i, get)
/// for each item of the window in order; get() returns the item's result (T&) or rethrows the
/// exception its work threw, so the consumer decides per item whether an error stops everything.
/// At most `window` results are held at once. OpenMP loops inside work get the threads that the
/// window leaves spare (one each when it has at least as many items as threads).
template <typename T, typename Work, typename Consume>
void ordered_parallel(std::int64_t n, std::int64_t window, Work&& work, Consume&& consume) {
  window = std::max<std::int64_t>(1, window);
  const int threads = omp_get_max_threads();
  const int levels = omp_get_max_active_levels();
  std::vector<std::optional<T>> out;
  std::vector<std::exception_ptr> err;
  for (std::int64_t begin = 0; begin < n; begin += window) {
    const std::int64_t end = std::min(n, begin + window);
    out.assign(std::size_t(end - begin), std::nullopt);
    err.assign(std::size_t(end - begin), nullptr);
    // Fewer items than threads (a few large meshes, the last window): the spare threads go to
    // the items' own OpenMP loops (readers, features) as a nested team.
    const int outer = int(std::min<std::int64_t>(threads, end - begin));
    const int inner = std::max(1, threads / outer);
    if (inner > 1) omp_set_max_active_levels(std::max(levels, 2));
#pragma omp parallel for num_threads(outer) schedule(dynamic, 1)
    for (std::int64_t i = begin; i < end; ++i) {
      omp_set_num_threads(inner);
      try {
        out[std::size_t(i - begin)].emplace(work(i));
      } catch (...) {
        err[std::size_t(i - begin)] = std::current_exception();
      }
    }
    omp_set_max_active_levels(levels);
    for (std::int64_t i = begin; i < end; ++i) {
      const std::size_t k = std::size_t(i - begin);
      consume(i, [&]() -> T& {
        if (err[k]) std::rethrow_exception(err[k]);
        return *out[k];
      });
      out[k].reset();  // free the item's memory before the next window is read
    }
  }
}

}  // namespace flare
