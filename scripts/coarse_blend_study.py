#!/usr/bin/env python3
"""Does a coarse simulation help the surrogate where the surrogate is unsure? A study, on parts
given as STLs with their voxel size (examples/heldout/parts.txt):

    scripts/coarse_blend_study.py MODEL WORKDIR PART [PART ...] [--fs build/flare-surrogate]
        [--parts-dir examples/heldout] [--sigma-coarse 0.5]

For each part: the truth (`am voxelize` at its voxel v, `am simulate` with the defaults), then
`predict --coarse-solve` on it: the ensemble's prediction and its score s (the calibrated
estimate of its relative L2 error), the part coarsened to 2v and solved with the same defaults,
sampled at the truth's nodes, and the inverse-variance combination of the two estimates, each
weighted by the inverse square of its expected relative error:

    u = a * u_model + (1 - a) * u_coarse,   a = sc^2 / (s^2 + sc^2)

where sc (--sigma-coarse, predict's --coarse-sigma) is the coarse solve's own relative error. A
part the model knows has a small s, so a is near 1; a part it does not know leans on the physics.
Prints a markdown row per part (score, the spread of the coarse lattices' fields, a, and the errors
of the coarse solve, the model, the combination and the fixed blend 0.7/0.3) and the means.
Files in WORKDIR are reused when present. Needs Debian's python3-vtk9 (/usr/bin/python3)."""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import vtk
from vtk.util.numpy_support import vtk_to_numpy


def read(path):
    r = vtk.vtkXMLUnstructuredGridReader()
    r.SetFileName(path)
    r.Update()
    g = r.GetOutput()
    if g.GetNumberOfPoints() == 0:
        sys.exit(f"coarse_blend_study: {path}: no points")
    return g


def field(grid, name, path):
    a = grid.GetPointData().GetArray(name)
    if a is None:
        sys.exit(f"coarse_blend_study: {path}: no point array '{name}'")
    return vtk_to_numpy(a).astype(np.float64)


def run(cmd, out):
    if os.path.exists(out):
        return ""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"coarse_blend_study: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("work")
    ap.add_argument("parts", nargs="+")
    ap.add_argument("--fs", default="build/flare-surrogate")
    ap.add_argument("--parts-dir", default="examples/heldout")
    ap.add_argument("--sigma-coarse", type=float, default=0.5)
    a = ap.parse_args()
    fs = a.fs.split()
    voxels = {}
    with open(os.path.join(a.parts_dir, "parts.txt")) as f:
        for line in f:
            w = line.split()
            if len(w) >= 2:
                voxels[w[0]] = float(w[1])
    os.makedirs(a.work, exist_ok=True)
    rows = []
    for p in a.parts:
        if p not in voxels:
            sys.exit(f"coarse_blend_study: {p}: not in {a.parts_dir}/parts.txt")
        stl, v, w = os.path.join(a.parts_dir, p + ".stl"), voxels[p], a.work
        run(fs + ["am", "voxelize", stl, "--voxel", str(v), "-o", f"{w}/{p}_part.vtu"], f"{w}/{p}_part.vtu")
        run(fs + ["am", "simulate", f"{w}/{p}_part.vtu", "-o", f"{w}/{p}.vtu"], f"{w}/{p}.vtu")
        pred = f"{w}/{p}_cs{a.sigma_coarse}.vtu"
        log = run(fs + ["predict", f"{w}/{p}.vtu", "-m", a.model, "-o", pred, "--device", "cpu",
                        "--coarse-solve", "--coarse-sigma", str(a.sigma_coarse)], pred)
        if log:
            with open(pred + ".log", "w") as f:
                f.write(log)
        text = open(pred + ".log").read()
        m = re.search(r"uncertainty score ([0-9.eE+-]+)", text)
        c = re.search(r"spread ([0-9.eE+-]+)\); \w+ = ([0-9.]+) x model", text)
        if not m or not c:
            sys.exit(f"coarse_blend_study: {pred}.log: no score or coarse-solve line (the model must be an ensemble)")
        s, spread, alpha = float(m.group(1)), float(c.group(1)), float(c.group(2))
        truth = read(pred)
        ut = field(truth, "displacement", pred)
        um, uc, ub = (field(truth, "displacement_" + k, pred) for k in ("model", "coarse", "pred"))
        err = lambda u: np.linalg.norm(u - ut) / np.linalg.norm(ut)
        rows.append((err(uc), err(um), err(ub), err(0.7 * um + 0.3 * uc), spread))
        print(f"| {p} | {s:.3f} | {spread:.3f} | {alpha:.2f} | {rows[-1][0]:.3f} | {rows[-1][1]:.3f} | {rows[-1][2]:.3f} | {rows[-1][3]:.3f} |", flush=True)
    m = np.array(rows).mean(0)
    print(f"| **mean** | | {m[4]:.3f} | | {m[0]:.3f} | {m[1]:.3f} | **{m[2]:.3f}** | {m[3]:.3f} |")


if __name__ == "__main__":
    main()
