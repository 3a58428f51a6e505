#!/usr/bin/env bash
# Installs the Debian 12 packages flare-surrogate needs to build and test. Idempotent and quiet:
# packages already present are not touched, and apt-get update runs only when something is missing.
# CUDA (nvcc, cuBLAS) is not installed here: it comes with the machine; without it the build is
# CPU-only.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libeigen3-dev            # dense linear algebra (kernels/cpu, am solver)
  libvtk9-dev              # mesh I/O (.vtu, .vtk, .vtp, .stl, .pvd)
  liblz4-dev               # the parallel .vtu writer compresses its LZ4 blocks itself
  libhdf5-dev              # datasets and checkpoints
  libboost-program-options-dev
  nlohmann-json3-dev       # --json output, configs stored in checkpoints
  libgtest-dev             # test suite
  libopenmpi-dev openmpi-bin  # data-parallel train (mpirun -np N); CI runs it with 2 CPU ranks
  calculix-ccx             # reference solver for the am/ validation tests
  python3                  # tests/reference tools and example scripts
  python3-vtk9             # tests/examples read predictions as ParaView does; examples/lpbf STLs
  python3-numpy            # examples/heldout/make_parts.py, scripts/invariance_check.py
  xvfb xauth               # a virtual display, so CI renders the README picture's script (render_vtk.py)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
