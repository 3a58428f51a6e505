#!/usr/bin/env python3
"""How much a model's prediction depends on where and how a part sits on the plate.

    scripts/invariance_check.py MODEL PART.vtu [PART.vtu ...] [--fs build/flare-surrogate]

For each part: predicts it as given, moved by (40, 25) mm in x-y, rotated 90 degrees about z and
mirrored in x, and prints per part the relative L2 difference between the moved prediction and
the original, and between the rotated (mirrored) prediction and the original prediction turned
(mirrored) with the part. The process model is unchanged by all three (inherent strain isotropic in
the plane), so a physical model gives 0 for the move and about its own error for the others.
Needs Debian's python3-vtk9 (/usr/bin/python3)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import vtk
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy


def read(path):
    r = vtk.vtkXMLUnstructuredGridReader()
    r.SetFileName(path)
    r.Update()
    return r.GetOutput()


def write(grid, path):
    w = vtk.vtkXMLUnstructuredGridWriter()
    w.SetFileName(path)
    w.SetInputData(grid)
    if not w.Write():
        sys.exit(f"invariance_check: could not write {path}")


def transformed(grid, matrix, shift):
    g = vtk.vtkUnstructuredGrid()
    g.DeepCopy(grid)
    p = vtk_to_numpy(g.GetPoints().GetData()).astype(np.float64)
    q = p @ matrix.T + shift
    pts = vtk.vtkPoints()
    pts.SetData(numpy_to_vtk(q, deep=True))
    g.SetPoints(pts)
    if np.linalg.det(matrix) < 0:  # a mirror turns the cells inside out: restore their orientation
        g.GetCellData().Initialize()
        cells = vtk_to_numpy(g.GetCells().GetConnectivityArray()).reshape(-1, 8).copy()
        cells = cells[:, [1, 0, 3, 2, 5, 4, 7, 6]]
        ca = vtk.vtkCellArray()
        ca.SetData(8, numpy_to_vtk(cells.ravel().astype(np.int64), deep=True))
        g.SetCells(vtk.VTK_HEXAHEDRON, ca)
    return g


def predict(fs, model, path, out):
    r = subprocess.run(fs + ["predict", path, "-m", model, "-o", out, "--device", "cpu"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"invariance_check: predict {path} failed: {r.stderr.strip()}")
    return vtk_to_numpy(read(out).GetPointData().GetArray("displacement_pred")).astype(np.float64)


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("parts", nargs="+")
    ap.add_argument("--fs", default="build/flare-surrogate")
    a = ap.parse_args()
    fs = a.fs.split()
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    mirror = np.diag([-1.0, 1.0, 1.0])
    cases = [("moved (40, 25) mm", np.eye(3), np.array([40.0, 25.0, 0.0])),
             ("rotated 90 deg about z", rot, np.zeros(3)),
             ("mirrored in x", mirror, np.zeros(3))]
    print("| part | " + " | ".join(c[0] for c in cases) + " | error vs truth |")
    print("|---" * (len(cases) + 2) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for part in a.parts:
            grid = read(part)
            base = predict(fs, a.model, part, os.path.join(tmp, "base.vtu"))
            row = []
            for name, m, s in cases:
                src = os.path.join(tmp, "moved.vtu")
                write(transformed(grid, m, s), src)
                pred = predict(fs, a.model, src, os.path.join(tmp, "moved_pred.vtu"))
                row.append(rel(pred, base @ m.T))  # the original prediction, turned with the part
            truth = grid.GetPointData().GetArray("displacement")
            err = f"{rel(base, vtk_to_numpy(truth)):.3f}" if truth is not None else "-"
            print(f"| {os.path.basename(part)} | " + " | ".join(f"{x:.2e}" for x in row) + f" | {err} |")


if __name__ == "__main__":
    main()
