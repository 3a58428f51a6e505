#!/usr/bin/env python3
"""Renders a flare-surrogate prediction to a PNG without ParaView: the same side-by-side picture as
show_prediction.py (predicted left, simulated truth right when present), with Debian's
python3-vtk9 only.

    /usr/bin/python3 examples/paraview/render_vtk.py part_pred.vtu -o part_pred.png
    xvfb-run -a /usr/bin/python3 examples/paraview/render_vtk.py part_pred.vtu   # no display

Each view is the part warped by its displacement times one common scale factor (by default so
the largest displacement is 10% of the part's largest dimension; --scale overrides it) and
coloured by the displacement magnitude on one shared colour range, so the two halves compare.
"""
import argparse
import math
import os
import sys

import vtk


def read_prediction(path):
    if not os.path.isfile(path):
        sys.exit(f"{path}: no such file (give a .vtu written by `flare-surrogate predict`)")
    reader = vtk.vtkXMLUnstructuredGridReader()
    reader.SetFileName(path)
    reader.Update()
    grid = reader.GetOutput()
    if grid.GetNumberOfPoints() == 0:
        sys.exit(f"{path}: no points (is it a .vtu written by `flare-surrogate predict`?)")
    return grid


def vector_array(grid, name, path, required):
    array = grid.GetPointData().GetArray(name)
    if array is None or array.GetNumberOfComponents() != 3:
        if required:
            sys.exit(f"{path}: no 3-component point array '{name}' (run `flare-surrogate predict` "
                     f"with a model trained on that field, or pass --field)")
        return None
    return array


def max_magnitude(array):
    return max((math.sqrt(sum(c * c for c in array.GetTuple3(i)))
                for i in range(array.GetNumberOfTuples())), default=0.0)


def auto_scale(grid, arrays, fraction):
    """The warp factor that makes the largest displacement `fraction` of the part's largest side."""
    b = grid.GetBounds()
    size = max(b[1] - b[0], b[3] - b[2], b[5] - b[4])
    largest = max(max_magnitude(a) for a in arrays)
    return fraction * size / largest if largest > 0 else 1.0


def magnitude_array(array, name):
    out = vtk.vtkDoubleArray()
    out.SetName(name)
    out.SetNumberOfTuples(array.GetNumberOfTuples())
    for i in range(array.GetNumberOfTuples()):
        out.SetValue(i, math.sqrt(sum(c * c for c in array.GetTuple3(i))))
    return out


def warped_actor(grid, vectors, scale, lut, value_range):
    """The part's surface displaced by scale × vectors, coloured by |vectors|."""
    copy = vtk.vtkUnstructuredGrid()
    copy.ShallowCopy(grid)
    magnitude = magnitude_array(vectors, "magnitude")
    copy.GetPointData().AddArray(magnitude)
    surface = vtk.vtkDataSetSurfaceFilter()
    surface.SetInputData(copy)
    warp = vtk.vtkWarpVector()
    warp.SetInputConnection(surface.GetOutputPort())
    warp.SetInputArrayToProcess(0, 0, 0, vtk.vtkDataObject.FIELD_ASSOCIATION_POINTS, vectors.GetName())
    warp.SetScaleFactor(scale)
    mapper = vtk.vtkDataSetMapper()
    mapper.SetInputConnection(warp.GetOutputPort())
    mapper.SetScalarModeToUsePointFieldData()
    mapper.SelectColorArray("magnitude")
    mapper.SetLookupTable(lut)
    mapper.SetScalarRange(*value_range)
    mapper.ScalarVisibilityOn()
    actor = vtk.vtkActor()
    actor.SetMapper(mapper)
    return actor


def place_camera(camera, bounds):
    """Looks at the part from the front-right and above, build direction (z) up (as
    show_prediction.py does)."""
    centre = [(bounds[2 * k] + bounds[2 * k + 1]) / 2 for k in range(3)]
    size = max(bounds[2 * k + 1] - bounds[2 * k] for k in range(3))
    camera.SetFocalPoint(*centre)
    camera.SetPosition(centre[0] + 1.2 * size, centre[1] - 2.0 * size, centre[2] + 1.1 * size)
    camera.SetViewUp(0, 0, 1)


def label(text, size):
    actor = vtk.vtkTextActor()
    actor.SetInput(text)
    actor.GetTextProperty().SetFontSize(size)
    actor.GetTextProperty().SetColor(0.1, 0.1, 0.1)
    actor.SetPosition(12, 12)
    return actor


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prediction", help=".vtu written by `flare-surrogate predict`")
    ap.add_argument("-o", "--output", help="PNG to write (default: the prediction's name with .png)")
    ap.add_argument("--field", default="displacement", help="the predicted vector field (default: displacement)")
    ap.add_argument("--scale", type=float, help="warp scale factor (default: largest displacement = 10%% of the part size)")
    ap.add_argument("--size", type=int, nargs=2, default=(1600, 700), metavar=("W", "H"), help="image size in pixels")
    args = ap.parse_args()
    output = args.output or os.path.splitext(args.prediction)[0] + ".png"

    grid = read_prediction(args.prediction)
    pred = vector_array(grid, args.field + "_pred", args.prediction, required=True)
    truth = vector_array(grid, args.field, args.prediction, required=False)
    shown = [(pred, f"predicted {args.field}")] + ([(truth, f"simulated {args.field} (truth)")] if truth else [])
    scale = args.scale if args.scale is not None else auto_scale(grid, [a for a, _ in shown], 0.10)
    value_range = (0.0, max(max_magnitude(a) for a, _ in shown) or 1.0)

    lut = vtk.vtkLookupTable()  # rainbow: blue (still) to red (most displaced)
    lut.SetHueRange(0.667, 0.0)
    lut.SetTableRange(*value_range)
    lut.Build()

    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(*args.size)
    camera = None
    for k, (array, title) in enumerate(shown):
        renderer = vtk.vtkRenderer()
        renderer.SetBackground(1, 1, 1)
        renderer.SetViewport(k / len(shown), 0, (k + 1) / len(shown), 1)
        renderer.AddActor(warped_actor(grid, array, scale, lut, value_range))
        renderer.AddActor2D(label(f"{title}, warp x{scale:.3g}", 20))
        if camera is None:  # one camera for all views: same angle and zoom on both halves
            camera = renderer.GetActiveCamera()
            place_camera(camera, grid.GetBounds())
            renderer.ResetCamera()
        else:
            renderer.SetActiveCamera(camera)
        window.AddRenderer(renderer)
    bar = vtk.vtkScalarBarActor()
    bar.SetLookupTable(lut)
    bar.SetTitle(f"|{args.field}|")
    bar.SetNumberOfLabels(4)
    bar.GetTitleTextProperty().SetColor(0.1, 0.1, 0.1)
    bar.GetLabelTextProperty().SetColor(0.1, 0.1, 0.1)
    bar.SetOrientationToHorizontal()
    bar.SetPosition(0.3, 0.87)
    bar.SetWidth(0.4)
    bar.SetHeight(0.11)
    # The bar spans both halves, so it lives in an overlay renderer on top of the views.
    overlay = vtk.vtkRenderer()
    overlay.SetLayer(1)
    overlay.InteractiveOff()
    overlay.AddActor2D(bar)
    window.SetNumberOfLayers(2)
    window.AddRenderer(overlay)
    window.Render()

    image = vtk.vtkWindowToImageFilter()
    image.SetInput(window)
    image.ReadFrontBufferOff()
    image.Update()
    writer = vtk.vtkPNGWriter()
    tmp = f"{output}.tmp{os.getpid()}.png"  # then rename: never a half-written PNG
    writer.SetFileName(tmp)
    writer.SetInputConnection(image.GetOutputPort())
    writer.Write()
    if not os.path.isfile(tmp):
        sys.exit(f"{output}: could not write the PNG")
    os.replace(tmp, output)
    print(f"{output}: {len(shown)} view(s), warp x{scale:.3g}, |{args.field}| up to {value_range[1]:.4g}")


if __name__ == "__main__":
    main()
