"""Reads a `flare-surrogate predict` output and its input with python3-vtk9, the way ParaView does,
and prints what test_prediction_views checks, as JSON:

    python3 inspect_prediction.py PRED.vtu INPUT.vtu FIELD
"""
import json
import math
import sys

import vtk


def read(path):
    reader = vtk.vtkXMLUnstructuredGridReader()
    reader.SetFileName(path)
    reader.Update()
    return reader.GetOutput()


def main():
    pred_path, input_path, field = sys.argv[1:4]
    pred, source = read(pred_path), read(input_path)
    pd = pred.GetPointData()
    arrays = {pd.GetArrayName(i): pd.GetArray(i).GetNumberOfComponents() for i in range(pd.GetNumberOfArrays())}
    facts = {"points": pred.GetNumberOfPoints(), "input_points": source.GetNumberOfPoints(),
             "cells": pred.GetNumberOfCells(), "input_cells": source.GetNumberOfCells(), "arrays": arrays}
    p, mag, err, truth = (pd.GetArray(n) for n in (field + "_pred", field + "_pred_magnitude",
                                                   field + "_error", field))
    finite, mag_gap, err_gap, moved, largest = True, 0.0, 0.0, 0.0, 0.0
    for i in range(pred.GetNumberOfPoints()):
        a, b = pred.GetPoint(i), source.GetPoint(i)
        moved = max(moved, max(abs(a[k] - b[k]) for k in range(3)))
        if p is None or p.GetNumberOfComponents() != 3:
            continue
        v = p.GetTuple3(i)
        finite = finite and all(math.isfinite(c) for c in v)
        norm = math.sqrt(sum(c * c for c in v))
        largest = max(largest, norm)
        if mag is not None:
            mag_gap = max(mag_gap, abs(mag.GetValue(i) - norm))
        if err is not None and truth is not None:
            t, e = truth.GetTuple3(i), err.GetTuple3(i)
            err_gap = max(err_gap, max(abs(e[k] - (v[k] - t[k])) for k in range(3)))
    facts.update({"finite": finite, "magnitude_gap": mag_gap, "error_gap": err_gap,
                  "points_moved": moved, "largest_prediction": largest})
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
