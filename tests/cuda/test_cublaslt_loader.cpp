// cuBLASLt is loaded on first use, not at program start (kernels/cuda/cublaslt_api.h): a process
// that never makes a CUDA context does not pay its third of a second. No GPU needed: the library
// loads on any machine that has the toolkit this build used.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "kernels/cuda/cublaslt_api.h"
#include "tests/support/cli.h"

namespace {

bool mapped(const std::string& library) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find(library) != std::string::npos) return true;
  return false;
}

// The dynamic loader's account of what `flare-surrogate ARGS` loads (LD_DEBUG=files, on stderr;
// FLARE_TEST_BINARY names the binary on the GPU host, as for every command-line test).
std::string loaded_by(const std::string& args) {
  const char* env = std::getenv("FLARE_TEST_BINARY");
  return flare::test::run_command("LD_DEBUG=files " + std::string(env ? env : FLARE_BINARY) + " " + args).out;
}

}  // namespace

TEST(CublasLtLoader, LoadsOnFirstUseWithEveryEntryPoint) {
  const std::string lib = flare::cuda::cublaslt_library_name();
  EXPECT_EQ(lib.rfind("libcublasLt.so.", 0), 0u) << lib;
  EXPECT_FALSE(mapped("libcublasLt")) << "linked, not loaded on first use";
  const flare::cuda::CublasLtApi& lt = flare::cuda::cublaslt();
  EXPECT_TRUE(mapped("libcublasLt"));
  EXPECT_EQ(&lt, &flare::cuda::cublaslt()) << "loaded once";
  for (const void* fn : {(const void*)lt.create, (const void*)lt.destroy, (const void*)lt.status_name,
                         (const void*)lt.status_string, (const void*)lt.matmul,
                         (const void*)lt.algo_get_heuristic, (const void*)lt.desc_create,
                         (const void*)lt.desc_destroy, (const void*)lt.desc_set_attribute,
                         (const void*)lt.layout_create, (const void*)lt.layout_destroy,
                         (const void*)lt.preference_create, (const void*)lt.preference_destroy,
                         (const void*)lt.preference_set_attribute})
    EXPECT_NE(fn, nullptr);
  EXPECT_STREQ(lt.status_name(CUBLAS_STATUS_NOT_INITIALIZED), "CUBLAS_STATUS_NOT_INITIALIZED");
  // A handle needs no GPU context of its own; creating one exercises a resolved entry point.
  cublasLtHandle_t h = nullptr;
  if (lt.create(&h) == CUBLAS_STATUS_SUCCESS) EXPECT_EQ(lt.destroy(h), CUBLAS_STATUS_SUCCESS);
}

TEST(CublasLtLoader, TheCommandDoesNotLoadItToStart) {
  const std::string log = loaded_by("--version");
  ASSERT_NE(log.find("calling init"), std::string::npos) << "LD_DEBUG gave no account:\n" << log;
  EXPECT_EQ(log.find("libcublasLt"), std::string::npos) << "flare-surrogate --version loaded cuBLASLt";
  EXPECT_EQ(log.find("libcublas.so"), std::string::npos) << "flare-surrogate --version loaded cuBLAS";
}
