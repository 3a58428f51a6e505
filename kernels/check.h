// Precondition checks shared by the ref and cpu tiers (the cuda tier can use them on host copies).
// They are O(B) and run at every entry that takes a packed batch: a bad offsets array would
// otherwise read out of bounds silently.
#pragma once

#include <cstdint>

#include "common/error.h"

namespace flare::kernels {

/// Throws flare::Error unless offsets [B+1] describe a packed batch: offsets[0] = 0, never
/// decreasing.
inline void check_offsets(const std::int64_t* offsets, int B, const char* op) {
  FLARE_CHECK(B >= 0 && offsets != nullptr, op,
              ": need B >= 0 meshes and an offsets array, got B = ", B);
  FLARE_CHECK(offsets[0] == 0, op, ": offsets[0] must be 0, got ", offsets[0]);
  for (int b = 0; b < B; ++b)
    FLARE_CHECK(offsets[b + 1] >= offsets[b], op, ": offsets must not decrease, offsets[", b,
                "] = ", offsets[b], " > offsets[", b + 1, "] = ", offsets[b + 1]);
}

/// Throws flare::Error unless the mixer dimensions are usable (H, M, D ≥ 1) and offsets are valid.
inline void check_mixer(const std::int64_t* offsets, int B, int H, int M, int D, const char* op) {
  FLARE_CHECK(H >= 1 && M >= 1 && D >= 1, op, ": need H, M, D >= 1, got H = ", H, ", M = ", M,
              ", D = ", D);
  check_offsets(offsets, B, op);
}

}  // namespace flare::kernels
