#!/usr/bin/env python3
"""Writes the closed outer surface of a voxel part (.vtu from `flare-surrogate am part`) as a
binary STL, so each example part comes as the STL a user would start from.

Needs Debian's python3-vtk9 (run with /usr/bin/python3 where another python3 comes first):

    /usr/bin/python3 examples/lpbf/surface_stl.py part.vtu part.stl
"""
import os
import sys

import vtk


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: surface_stl.py PART.vtu OUT.stl")
    reader = vtk.vtkXMLUnstructuredGridReader()
    reader.SetFileName(sys.argv[1])
    reader.Update()
    if reader.GetOutput().GetNumberOfCells() == 0:
        sys.exit(f"{sys.argv[1]}: no cells (expected a hexahedral part from `am part`)")
    # The faces used by one hexahedron only are the part's boundary; they share the mesh's points,
    # so the triangulated surface is closed.
    surface = vtk.vtkDataSetSurfaceFilter()
    surface.SetInputConnection(reader.GetOutputPort())
    clean = vtk.vtkCleanPolyData()  # drop the interior points the surface does not use
    clean.SetInputConnection(surface.GetOutputPort())
    tris = vtk.vtkTriangleFilter()
    tris.SetInputConnection(clean.GetOutputPort())
    writer = vtk.vtkSTLWriter()
    writer.SetFileTypeToBinary()
    tmp = f"{sys.argv[2]}.tmp{os.getpid()}"  # then rename: never a half-written STL
    writer.SetFileName(tmp)
    writer.SetInputConnection(tris.GetOutputPort())
    if writer.Write() != 1:
        sys.exit(f"{sys.argv[2]}: could not write the STL")
    os.replace(tmp, sys.argv[2])
    print(f"{sys.argv[2]}: {tris.GetOutput().GetNumberOfCells()} triangles")


if __name__ == "__main__":
    main()
