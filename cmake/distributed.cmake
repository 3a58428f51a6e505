# Data-parallel training (docs/distributed.md): MPI for launching and host collectives, NCCL for
# the gradient all-reduce between GPUs. Both optional: without MPI the tool trains as one process;
# without NCCL (Debian does not package it) device gradients are staged through host memory.
#
# NCCL is looked for in FLARE_NCCL_ROOT (cache or environment variable: a folder with
# include/nccl.h and lib/libnccl.so*, e.g. the nvidia-nccl-cu13 wheel's site-packages/nvidia/nccl)
# and then beside the CUDA toolkit.
option(FLARE_ENABLE_MPI "Build data-parallel training over MPI (when MPI is found)" ON)
if(FLARE_ENABLE_MPI)
  find_package(MPI COMPONENTS C)
endif()
if(TARGET MPI::MPI_C)
  flare_report(MPI "${MPI_C_VERSION} (${MPIEXEC_EXECUTABLE})")
else()
  flare_report_missing(MPI "not found or FLARE_ENABLE_MPI=OFF: train runs as one process (apt-get install libopenmpi-dev)")
endif()

set(FLARE_NCCL_ROOT "$ENV{FLARE_NCCL_ROOT}" CACHE PATH "NCCL install or wheel folder (include/nccl.h, lib/libnccl.so*)")
if(FLARE_ENABLE_CUDA AND TARGET MPI::MPI_C)
  find_path(FLARE_NCCL_INCLUDE_DIR nccl.h HINTS ${FLARE_NCCL_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS}
            ${CUDAToolkit_LIBRARY_ROOT}/include)
  # The wheel ships only libnccl.so.2 (no unversioned link), hence the second name.
  find_library(FLARE_NCCL_LIBRARY NAMES nccl libnccl.so.2
               HINTS ${FLARE_NCCL_ROOT}/lib ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib)
  if(FLARE_NCCL_INCLUDE_DIR AND FLARE_NCCL_LIBRARY)
    add_library(flare_nccl INTERFACE)
    target_include_directories(flare_nccl INTERFACE ${FLARE_NCCL_INCLUDE_DIR})
    target_link_libraries(flare_nccl INTERFACE ${FLARE_NCCL_LIBRARY} CUDA::cudart)
    flare_report(NCCL "${FLARE_NCCL_LIBRARY}")
  else()
    flare_report_missing(NCCL "not found (set FLARE_NCCL_ROOT): GPU gradients are all-reduced through host memory")
  endif()
elseif(FLARE_ENABLE_CUDA)
  flare_report_missing(NCCL "needs MPI to bootstrap")
endif()
