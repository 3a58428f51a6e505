#include "surrogate/ops_table.h"

#include "kernels/ops.h"
#include "kernels/ref/flare_decode.h"
#include "kernels/ref/flare_encode.h"
#include "kernels/ref/gelu.h"
#include "kernels/ref/layernorm.h"
#include "kernels/ref/linear.h"

namespace flare::surrogate {

namespace {
// ops.h takes eps as float; the table carries T so the double table needs no cast.
void cpu_layernorm_fwd(const float* x, const float* g, const float* b, float* y, float* mean,
                       float* rstd, std::int64_t N, int C, float eps) {
  kernels::cpu::layernorm_fwd(x, g, b, y, mean, rstd, N, C, eps);
}
void ref_layernorm_fwd(const float* x, const float* g, const float* b, float* y, float* mean,
                       float* rstd, std::int64_t N, int C, float eps) {
  kernels::ref::layernorm_fwd(x, g, b, y, mean, rstd, N, C, eps);
}
// ref has no templated add: it is one line.
void add_double(const double* a, const double* b, double* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
}  // namespace

#define FLARE_TIER_TABLE(ns, ln_fwd)                                                            \
  OpTable<float> {                                                                              \
    ns::linear_fwd, ns::linear_bwd, ns::gelu_fwd, ns::gelu_bwd, ln_fwd, ns::layernorm_bwd,       \
        ns::add, ns::flare_encode_fwd, ns::flare_decode_fwd, ns::flare_decode_bwd,               \
        ns::flare_encode_bwd                                                                     \
  }

OpTable<float> cpu_ops() { return FLARE_TIER_TABLE(kernels::cpu, cpu_layernorm_fwd); }
OpTable<float> ref_ops() { return FLARE_TIER_TABLE(kernels::ref, ref_layernorm_fwd); }

OpTable<double> ref_ops_double() {
  namespace impl = kernels::ref::impl;
  return OpTable<double>{impl::linear_fwd<double>,       impl::linear_bwd<double>,
                         impl::gelu_fwd<double>,         impl::gelu_bwd<double>,
                         impl::layernorm_fwd<double>,    impl::layernorm_bwd<double>,
                         add_double,                     impl::flare_encode_fwd<double>,
                         impl::flare_decode_fwd<double>, impl::flare_decode_bwd<double>,
                         impl::flare_encode_bwd<double>};
}

}  // namespace flare::surrogate
