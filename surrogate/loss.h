// Losses on normalised targets over a packed batch (kernels/ops.h conventions).
#pragma once

#include <cstdint>
#include <vector>

namespace flare::surrogate {

/// Mean squared error over all n = ΣN·T values. If dpred [n] is given it is OVERWRITTEN with
/// ∂loss/∂pred (the start of a backward pass).
double mse_loss(const float* pred, const float* target, std::int64_t n, float* dpred);

/// Relative L2 error per mesh, ‖p − t‖/‖t‖ over its rows and T columns (the metric FLARE reports).
std::vector<double> rel_l2(const float* pred, const float* target, const std::int64_t* offsets,
                           int B, int T);

/// mean_b rel_l2[b]; dpred [ΣN, T] OVERWRITTEN with its gradient if given.
double rel_l2_loss(const float* pred, const float* target, const std::int64_t* offsets, int B, int T,
                   float* dpred);

}  // namespace flare::surrogate
