// FLOP counts of the model (flash-attention flops() style: an explicit formula, so GFLOP/s figures
// can be checked by hand). Only multiply-adds of matrix products and of the mixer count (2 FLOPs
// each); GELU, LayerNorm, softmax exponentials and residual adds are O(C) per point and left out.
#pragma once

#include "surrogate/config.h"

namespace flare::surrogate {

/// Forward FLOPs per point: for each Linear(in, out) 2·in·out; per block and head the mixer does
/// four M×D products per point (encode scores Q·kᵀ, encode P·V, decode scores k·Qᵀ, decode P·Z):
/// 8·M·C in all. The default model (F = 8, T = 1) needs 1,361,024 FLOPs per point.
double forward_flops_per_point(const ModelConfig& config);

/// A training step (forward + backward): backward of every product is two products of the
/// forward's size (input gradient and weight gradient), so 3× the forward.
double train_flops_per_point(const ModelConfig& config);

}  // namespace flare::surrogate
