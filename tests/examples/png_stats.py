"""Size and content of a PNG, with python3-vtk9: distinct colours, and the share of pixels that are
not background (the corner colour) in the left and right halves, as JSON:

    python3 png_stats.py IMAGE.png
"""
import json
import sys

import vtk


def main():
    reader = vtk.vtkPNGReader()
    reader.SetFileName(sys.argv[1])
    reader.Update()
    image = reader.GetOutput()
    w, h, _ = image.GetDimensions()
    scalars = image.GetPointData().GetScalars()
    nc = scalars.GetNumberOfComponents()
    pixel = lambda i: tuple(int(scalars.GetComponent(i, c)) for c in range(min(nc, 3)))
    background = pixel(0)
    colours, filled = set(), [0, 0]
    for y in range(0, h, 2):  # every other row and column: plenty for these checks, 4x faster
        for x in range(0, w, 2):
            c = pixel(y * w + x)
            colours.add(c)
            if c != background:
                filled[0 if x < w // 2 else 1] += 1
    half = (w // 4) * (h // 2)
    print(json.dumps({"width": w, "height": h, "colours": len(colours),
                      "left_filled": filled[0] / half, "right_filled": filled[1] / half}))


if __name__ == "__main__":
    main()
