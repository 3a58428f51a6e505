// Summary statistics of a data array, for `info` and for sanity checks on inputs.
#pragma once

#include <cstdint>

#include "mesh/mesh.h"

namespace flare::mesh {

struct ArrayStats {
  double min = 0, max = 0, mean = 0;  ///< over all components of the non-NaN values
  std::int64_t nan_count = 0;         ///< NaN values (Inf counts as a value, not a NaN)
  std::int64_t values = 0;            ///< values that are not NaN
};

/// Statistics over every component of every tuple of `a`.
ArrayStats array_stats(const DataArray& a);

}  // namespace flare::mesh
