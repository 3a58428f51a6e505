#include "kernels/cuda/cublaslt_api.h"

#include <dlfcn.h>

#include <string>

#include "common/error.h"

namespace flare::cuda {

namespace {

#define FLARE_STR2(x) #x
#define FLARE_STR(x) FLARE_STR2(x)
constexpr const char* kLibrary = "libcublasLt.so." FLARE_STR(CUBLAS_VER_MAJOR);

template <class F>
void resolve(void* lib, F& fn, const char* symbol) {
  fn = reinterpret_cast<F>(dlsym(lib, symbol));
  FLARE_INPUT_CHECK(fn, "--device cuda: ", kLibrary, " has no ", symbol,
                    " (an older cuBLAS than the headers this program was built with?); install the "
                    "CUDA ", CUBLAS_VER_MAJOR, " cuBLAS runtime or use --device cpu");
}

CublasLtApi load() {
  // Local: nothing else in the process resolves against it. The handle is never closed (the
  // library lives as long as the process, as a linked one would).
  void* lib = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    throw InputError(detail::concat(
        "--device cuda: cannot load ", kLibrary, " (", why ? why : "not found",
        "); install the CUDA ", CUBLAS_VER_MAJOR, " toolkit's cuBLAS, or add the folder that holds it "
        "(e.g. /usr/local/cuda/lib64) to LD_LIBRARY_PATH; or use --device cpu"));
  }
  CublasLtApi a{};
  resolve(lib, a.create, "cublasLtCreate");
  resolve(lib, a.destroy, "cublasLtDestroy");
  resolve(lib, a.status_name, "cublasLtGetStatusName");
  resolve(lib, a.status_string, "cublasLtGetStatusString");
  resolve(lib, a.matmul, "cublasLtMatmul");
  resolve(lib, a.algo_get_heuristic, "cublasLtMatmulAlgoGetHeuristic");
  resolve(lib, a.desc_create, "cublasLtMatmulDescCreate");
  resolve(lib, a.desc_destroy, "cublasLtMatmulDescDestroy");
  resolve(lib, a.desc_set_attribute, "cublasLtMatmulDescSetAttribute");
  resolve(lib, a.layout_create, "cublasLtMatrixLayoutCreate");
  resolve(lib, a.layout_destroy, "cublasLtMatrixLayoutDestroy");
  resolve(lib, a.preference_create, "cublasLtMatmulPreferenceCreate");
  resolve(lib, a.preference_destroy, "cublasLtMatmulPreferenceDestroy");
  resolve(lib, a.preference_set_attribute, "cublasLtMatmulPreferenceSetAttribute");
  return a;
}

}  // namespace

const char* cublaslt_library_name() { return kLibrary; }

const CublasLtApi& cublaslt() {
  static const CublasLtApi api = load();  // a failed load throws and is tried again next time
  return api;
}

}  // namespace flare::cuda
