#!/usr/bin/env bash
# Regenerates the LPBF example parts in this folder: for each part a closed surface (NAME.stl) and
# the voxelised part simulated layer by layer (NAME.vtu, with the true `displacement`, `von_mises`
# and `layer` point arrays to compare predictions against).
#
#   examples/lpbf/make_examples.sh                 # uses build/flare-surrogate
#   FLARE=/path/to/flare-surrogate examples/lpbf/make_examples.sh
#
# Three parts come from procedural families (`am part`, seeds that no `am dataset --seed 0` sample
# uses: tests/examples checks it); their STL is the voxel part's outer surface. The blade is a user
# STL (make_blade_stl.py), voxelised with `am voxelize`. The simulation runs on one thread so the
# files come out byte for byte the same on every run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
FLARE="${FLARE:-$root/build/flare-surrogate}"
VTK_PYTHON="${VTK_PYTHON:-/usr/bin/python3}"  # Debian's python3-vtk9 lives in the system python
[ -x "$FLARE" ] || { echo "make_examples.sh: $FLARE not found; build first or set FLARE=" >&2; exit 2; }
"$VTK_PYTHON" -c "import vtk" 2>/dev/null ||
  { echo "make_examples.sh: $VTK_PYTHON cannot import vtk; install python3-vtk9 or set VTK_PYTHON=" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

simulate() {  # NAME PART.vtu: the solved part, written to the work folder
  "$FLARE" am simulate "$2" -o "$work/$1.vtu" --material ti64 --threads 1  # the default layering and supports
}

procedural() {  # NAME FAMILY SEED NODES
  "$FLARE" am part --family "$2" --seed "$3" --nodes "$4" -o "$work/$1_part.vtu"
  "$VTK_PYTHON" "$here/surface_stl.py" "$work/$1_part.vtu" "$work/$1.stl"
  simulate "$1" "$work/$1_part.vtu"
}

procedural bracket l_bracket 20261 8000..16000
procedural cantilever cantilever 20262 8000..16000
procedural overhang overhang 20264 8000..16000

python3 "$here/make_blade_stl.py" "$work/blade.stl"
# From inside the work folder, so the part records its source as plain "blade.stl".
(cd "$work" && "$FLARE" am voxelize blade.stl --voxel 0.5 -o blade_part.vtu)
simulate blade "$work/blade_part.vtu"

# Only now, with every part made, replace the committed files (a failure above changes nothing).
for name in bracket cantilever overhang blade; do
  mv "$work/$name.stl" "$here/$name.stl"
  mv "$work/$name.vtu" "$here/$name.vtu"
done
ls -l "$here"/*.stl "$here"/*.vtu
