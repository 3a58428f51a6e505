// ParamLayout: every parameter of the model as a slice of ONE flat fp32 buffer (llm.c,
// tiny-cuda-nn). Gradients and the AdamW moments use buffers of the same layout, so clipping,
// zeroing and the optimizer are single loops over the whole buffer, and CPU and GPU parameters
// compare with one element-wise check.
//
// Names are FLARE.py's state_dict names (in_proj.fc1.weight, blocks.3.att.latent_q, ...), in
// FLARE.py's registration order, so a checkpoint's params/<name> datasets load straight into
// FLAREModel.load_state_dict. Linear weights are [out, in] (torch.nn.Linear). latent_q is stored
// as FLARE.py stores it, [C, M]; the model reads the same memory as (H, M, D) (a .view, not a
// transpose), exactly like the reference.
//
// The slot structs give the model (and the CUDA backend) offsets without string lookups:
// pointer = base + slot.offset.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "surrogate/config.h"

namespace flare::surrogate {

/// How a tensor is initialised (flare.md): Linear weights N(0, 0.02), biases 0, LayerNorm 1/0,
/// latent_q N(0, 0.1).
enum class ParamInit { Zeros, Ones, Normal };

struct ParamInfo {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;  ///< in floats from the start of the buffer
  std::int64_t size = 0;    ///< product of shape
  ParamInit init = ParamInit::Zeros;
  float init_std = 0.0f;    ///< for ParamInit::Normal
  /// AdamW weight decay applies (FLARE.py make_optimizer_adamw: Linear weights only; biases,
  /// norms and latent queries are in the no-decay groups).
  bool decay = false;
};

struct LinearSlot {
  std::int64_t weight = -1;  ///< [out, in]
  std::int64_t bias = -1;    ///< [out]
  int in = 0;
  int out = 0;
};

struct NormSlot {
  std::int64_t weight = -1;  ///< [dim]
  std::int64_t bias = -1;    ///< [dim]
  int dim = 0;
};

/// One ResidualMLP. layers == -1: only fc1 is used and it maps in → out (nn.Linear path).
struct MlpSlots {
  MlpShape shape;
  LinearSlot fc1;
  std::vector<LinearSlot> fcs;
  LinearSlot fc2;
};

struct BlockSlots {
  NormSlot norm1, norm2;
  std::int64_t latent_q = -1;  ///< [C, M] stored, read as [H, M, D]
  NormSlot q_norm, k_norm;     ///< only when qk_norm (dim D)
  MlpSlots k_proj, v_proj;
  MlpSlots k_dec_proj;         ///< only when separate_decode_keys
  LinearSlot out_proj;         ///< the mixer's output Linear(C, C)
  MlpSlots mlp;                ///< the ffn
};

class ParamLayout {
 public:
  /// Validates the config and lays out every tensor.
  explicit ParamLayout(const ModelConfig& config);

  const ModelConfig& config() const { return m_config; }
  const std::vector<ParamInfo>& tensors() const { return m_tensors; }
  /// Total number of floats (= parameter count).
  std::int64_t size() const { return m_size; }
  /// nullptr when absent.
  const ParamInfo* find(std::string_view name) const;

  /// Fills params [size()] deterministically from `seed` (same values on every platform and
  /// standard library: std::mt19937_64 and our own Box-Muller, tensors in layout order).
  void initialize(float* params, std::uint64_t seed) const;

  MlpSlots in_proj;
  NormSlot out_norm;  ///< only when out_proj_norm ("out_proj.0")
  MlpSlots out_mlp;   ///< "out_proj.1"
  std::vector<BlockSlots> blocks;

 private:
  std::int64_t add(std::string name, std::vector<std::int64_t> shape, ParamInit init, float std,
                   bool decay);
  LinearSlot add_linear(const std::string& prefix, int in, int out);
  NormSlot add_norm(const std::string& prefix, int dim);
  MlpSlots add_mlp(const std::string& prefix, const MlpShape& shape);

  ModelConfig m_config;
  std::vector<ParamInfo> m_tensors;
  std::int64_t m_size = 0;
};

/// Standard normal samples from a std::mt19937_64 via Box-Muller, so results do not depend on the
/// standard library's std::normal_distribution (the engine's output sequence is fixed by the
/// C++ standard; the distributions are not).
class NormalRng {
 public:
  explicit NormalRng(std::uint64_t seed) : m_engine(seed) {}
  /// Uniform in (0, 1), 53-bit, never 0 (safe for log).
  double uniform();
  double normal();

 private:
  std::mt19937_64 m_engine;
  double m_spare = 0.0;
  bool m_has_spare = false;
};

}  // namespace flare::surrogate
