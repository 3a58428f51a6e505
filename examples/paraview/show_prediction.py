"""ParaView view of a flare-surrogate prediction, saved as a PNG: the part warped by the predicted
displacement and coloured by its magnitude, and, when the file also holds the simulated truth,
the truth warped the same way beside it (one camera, one scale factor, one colour range).

    pvpython examples/paraview/show_prediction.py part_pred.vtu -o part_pred.png
    pvpython examples/paraview/show_prediction.py part_pred.vtu --scale 50 --size 1200 600
    xvfb-run -a pvpython examples/paraview/show_prediction.py part_pred.vtu   # no display

LPBF distortions are a fraction of a millimetre on parts of centimetres, invisible unwarped: the
default scale makes the largest displacement 10% of the part's largest dimension (--scale
overrides it). In the ParaView GUI the same is Filters > Warp By Vector on displacement_pred,
coloured by displacement_pred_magnitude.
"""
import argparse
import os
import sys

from paraview import simple as pv


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prediction", help=".vtu written by `flare-surrogate predict`")
    ap.add_argument("-o", "--output", help="PNG to write (default: the prediction's name with .png)")
    ap.add_argument("--field", default="displacement", help="the predicted vector field (default: displacement)")
    ap.add_argument("--scale", type=float, help="warp scale factor (default: largest displacement = 10%% of the part size)")
    ap.add_argument("--size", type=int, nargs=2, default=(1600, 700), metavar=("W", "H"), help="image size in pixels")
    return ap.parse_args()


def fail(message):
    print(f"show_prediction.py: {message}", file=sys.stderr)
    sys.exit(2)


def vector_range(reader, name):
    """(0, largest magnitude) of a 3-component point array, or None when the file lacks it."""
    info = reader.PointData[name] if name in reader.PointData.keys() else None
    if info is None or info.GetNumberOfComponents() != 3:
        return None
    return info.GetRange(-1)  # component -1: the magnitude


def place_camera(view, bounds):
    """Looks at the part from the front-right and above, build direction (z) up."""
    centre = [(bounds[2 * k] + bounds[2 * k + 1]) / 2 for k in range(3)]
    size = max(bounds[2 * k + 1] - bounds[2 * k] for k in range(3))
    view.CameraFocalPoint = centre
    view.CameraPosition = [centre[0] + 1.2 * size, centre[1] - 2.0 * size, centre[2] + 1.1 * size]
    view.CameraViewUp = [0, 0, 1]
    view.ResetCamera()


def white_background(view):
    if hasattr(view, "UseColorPaletteForBackground"):  # ParaView >= 5.10 ignores Background otherwise
        view.UseColorPaletteForBackground = 0
    view.Background = [1, 1, 1]
    view.OrientationAxesVisibility = 0


def show_warped(source, view, vectors, colour, scale, top, title):
    """Warps `source` by `vectors` × scale in `view` and colours it by `colour` (array, component)."""
    warp = pv.WarpByVector(Input=source)
    warp.Vectors = ["POINTS", vectors]
    warp.ScaleFactor = scale
    display = pv.Show(warp, view)
    pv.ColorBy(display, ("POINTS",) + colour)
    lut = pv.GetColorTransferFunction(colour[0])
    if len(colour) > 1:
        lut.VectorMode = "Magnitude"
    lut.AutomaticRescaleRangeMode = "Never"  # both views share one range: the larger of the two
    lut.RescaleTransferFunction(0.0, top)
    display.SetScalarBarVisibility(view, True)
    bar = pv.GetScalarBar(lut, view)  # horizontal, under the part rather than over it
    bar.Orientation = "Horizontal"
    bar.WindowLocation = "Any Location"
    bar.Position = [0.25, 0.04]
    bar.ScalarBarLength = 0.5
    bar.TitleFontSize = bar.LabelFontSize = 12
    bar.TitleColor = bar.LabelColor = [0.1, 0.1, 0.1]
    text = pv.Text(Text=f"{title}, warp x{scale:.3g}")
    text_display = pv.Show(text, view)
    text_display.WindowLocation = "Upper Center"
    text_display.Color = [0.1, 0.1, 0.1]
    text_display.FontSize = 14
    return warp


def main():
    args = parse_args()
    if not os.path.isfile(args.prediction):
        fail(f"{args.prediction}: no such file (give a .vtu written by `flare-surrogate predict`)")
    output = args.output or os.path.splitext(args.prediction)[0] + ".png"
    reader = pv.OpenDataFile(args.prediction)
    if reader is None:
        fail(f"{args.prediction}: ParaView cannot read this file")
    reader.UpdatePipeline()
    pred_name = args.field + "_pred"
    pred = vector_range(reader, pred_name)
    if pred is None:
        fail(f"{args.prediction}: no 3-component point array '{pred_name}' (run `flare-surrogate "
             f"predict` with a model trained on that field, or pass --field)")
    truth = vector_range(reader, args.field)
    top = max(pred[1], truth[1] if truth else 0.0) or 1.0
    bounds = reader.GetDataInformation().GetBounds()
    size = max(bounds[2 * k + 1] - bounds[2 * k] for k in range(3))
    scale = args.scale if args.scale is not None else 0.10 * size / top

    layout = pv.CreateLayout("prediction")
    views = [pv.CreateView("RenderView")]
    if truth:
        layout.SplitHorizontal(0, 0.5)
        views.append(pv.CreateView("RenderView"))
        pv.AssignViewToLayout(view=views[0], layout=layout, hint=1)
        pv.AssignViewToLayout(view=views[1], layout=layout, hint=2)
    else:
        pv.AssignViewToLayout(view=views[0], layout=layout, hint=0)
    show_warped(reader, views[0], pred_name, (args.field + "_pred_magnitude",), scale, top,
                f"predicted {args.field}")
    if truth:
        show_warped(reader, views[1], args.field, (args.field, "Magnitude"), scale, top,
                    f"simulated {args.field} (truth)")
    for view in views:
        white_background(view)
        place_camera(view, bounds)
    if truth:  # same camera on both sides, also when the user turns one in the GUI
        pv.AddCameraLink(views[0], views[1], "prediction_truth")

    tmp = f"{output}.tmp{os.getpid()}.png"  # then rename: never a half-written PNG
    pv.SaveScreenshot(tmp, layout, ImageResolution=list(args.size))
    if not os.path.isfile(tmp):
        fail(f"{output}: ParaView wrote no image")
    os.replace(tmp, output)
    print(f"{output}: {len(views)} view(s), warp x{scale:.3g}, |{args.field}| up to {top:.4g}")


if __name__ == "__main__":
    main()
