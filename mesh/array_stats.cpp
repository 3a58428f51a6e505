#include "mesh/array_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace flare::mesh {

ArrayStats array_stats(const DataArray& a) {
  ArrayStats s;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  const std::int64_t n = a.size();
  const int c = a.components();
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = a.get(i / c, int(i % c));
    if (std::isnan(v)) {
      ++s.nan_count;
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    ++s.values;
  }
  if (s.values > 0) {
    s.min = lo;
    s.max = hi;
    s.mean = sum / double(s.values);
  }
  return s;
}

}  // namespace flare::mesh
