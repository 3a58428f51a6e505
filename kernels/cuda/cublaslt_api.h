// cuBLASLt, loaded when the first CUDA context is made rather than when the program starts.
//
// Why: linking libcublasLt.so (540 MB) costs every process about a third of a second before main()
// (its loading and static initialisers; measured on the 2-core CI-like machine: an empty program
// linked with -lcublasLt takes 0.34 s against 0.00 s), whether or not it ever touches a GPU: every
// `predict`, `info` or `am part` paid it, and CI's hundreds of command-line tests with it. The
// ops use fourteen cuBLASLt entry points, so they go through this table, filled by dlopen/dlsym
// on first use (PyTorch's lazy NVRTC and the CUDA driver API's cuGetProcAddress do the same). A
// build or machine without cuBLASLt still runs everything on the cpu; --device cuda then gets a
// one-line error that names the library.
#pragma once

#include <cublasLt.h>

namespace flare::cuda {

struct CublasLtApi {
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtDestroy) destroy;
  decltype(&cublasLtGetStatusName) status_name;
  decltype(&cublasLtGetStatusString) status_string;
  decltype(&cublasLtMatmul) matmul;
  decltype(&cublasLtMatmulAlgoGetHeuristic) algo_get_heuristic;
  decltype(&cublasLtMatmulDescCreate) desc_create;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set_attribute;
  decltype(&cublasLtMatrixLayoutCreate) layout_create;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
  decltype(&cublasLtMatmulPreferenceCreate) preference_create;
  decltype(&cublasLtMatmulPreferenceDestroy) preference_destroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) preference_set_attribute;
};

/// The library's entry points, loaded once (thread-safe). InputError naming the library and how
/// to install it when it cannot be loaded or lacks an entry point.
const CublasLtApi& cublaslt();

/// The file name looked for: libcublasLt.so.<the major version of the headers built against>.
const char* cublaslt_library_name();

}  // namespace flare::cuda
