// A host-side bfloat16 value: the storage type of the model's bf16 activations (Model<Bf16, float>)
// on the host side of the code. The host never computes in it (the CPU tiers have no bf16 ops); it
// names the element type of device buffers and converts at the host boundary (infer_host). Same
// 16 bits as CUDA's __nv_bfloat16, so the CUDA backend reinterprets pointers.
#pragma once

#include <cstdint>
#include <cstring>

namespace flare::surrogate {

struct Bf16 {
  std::uint16_t bits = 0;
};

/// float → bf16, round to nearest even (as __float2bfloat16_rn); NaN stays a quiet NaN.
inline Bf16 to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return Bf16{std::uint16_t((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return Bf16{std::uint16_t(u >> 16)};
}

/// bf16 → float (exact).
inline float to_float(Bf16 b) {
  const std::uint32_t u = std::uint32_t(b.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace flare::surrogate
