#!/usr/bin/env python3
"""Writes a twisted, tapered turbine blade as a closed binary STL (millimetres, standing on z = 0).

Not one of flare-surrogate's procedural part families: it exercises `am voxelize` on a user STL,
and its thin, twisted section distorts differently from anything in the training data. Pure
standard library, so the example can be regenerated without extra packages:

    python3 examples/lpbf/make_blade_stl.py examples/lpbf/blade.stl
"""
import math
import os
import struct
import sys

HEIGHT = 36.0        # mm
CHORD_ROOT = 26.0    # mm, NACA chord at the plate (the section keeps TRAILING_CUT of it)
CHORD_TIP = 16.0     # mm, NACA chord at the tip
THICKNESS = 0.16     # maximum thickness / chord (NACA 00xx)
TRAILING_CUT = 0.85  # the section ends at this fraction of the chord
TWIST = 45.0         # degrees, root to tip
SECTION_POINTS = 48  # points on each airfoil section
LEVELS = 36          # sections along the height


def naca_section(chord, n):
    """Closed symmetric NACA 00xx outline, cut off flat at 85% of the chord so the trailing edge
    stays thicker than two 0.5 mm voxels (a sharp edge would fall apart into floating islands)."""
    pts = []
    for i in range(n):
        # Cosine spacing: dense at the leading and trailing edges where the outline bends.
        beta = 2.0 * math.pi * i / n
        x = TRAILING_CUT * 0.5 * (1.0 + math.cos(beta))   # cut -> 0 -> cut along the outline
        yt = 5.0 * THICKNESS * (0.2969 * math.sqrt(x) - 0.1260 * x - 0.3516 * x**2
                                + 0.2843 * x**3 - 0.1015 * x**4)
        y = yt if beta < math.pi else -yt          # upper surface first, then lower
        pts.append(((x - 0.5 * TRAILING_CUT) * chord, y * chord))
    return pts


def blade_sections():
    sections = []
    for k in range(LEVELS + 1):
        t = k / LEVELS
        chord = CHORD_ROOT + (CHORD_TIP - CHORD_ROOT) * t
        angle = math.radians(TWIST * t)
        c, s = math.cos(angle), math.sin(angle)
        z = HEIGHT * t
        sections.append([(c * x - s * y, s * x + c * y, z) for x, y in naca_section(chord, SECTION_POINTS)])
    return sections


def triangles(sections):
    n = SECTION_POINTS
    # main() flips every triangle when the volume comes out negative, so the winding of the
    # outline does not matter here; only consistency between the side and the caps does.
    tris = []
    for lo, hi in zip(sections, sections[1:]):
        for i in range(n):
            j = (i + 1) % n
            tris.append((lo[i], lo[j], hi[j]))
            tris.append((lo[i], hi[j], hi[i]))
    for sec, up in ((sections[0], False), (sections[-1], True)):
        cx = sum(p[0] for p in sec) / n
        cy = sum(p[1] for p in sec) / n
        centre = (cx, cy, sec[0][2])
        for i in range(n):
            j = (i + 1) % n
            tris.append((centre, sec[i], sec[j]) if up else (centre, sec[j], sec[i]))
    return tris


def normal(a, b, c):
    u = [b[k] - a[k] for k in range(3)]
    v = [c[k] - a[k] for k in range(3)]
    nx, ny, nz = u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    return (nx / length, ny / length, nz / length)


def signed_volume(tris):
    return sum(a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
               + a[2] * (b[0] * c[1] - b[1] * c[0]) for a, b, c in tris) / 6.0


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_blade_stl.py OUT.stl")
    tris = triangles(blade_sections())
    if signed_volume(tris) < 0:  # outward normals: flip every triangle
        tris = [(a, c, b) for a, b, c in tris]
    tmp = f"{sys.argv[1]}.tmp{os.getpid()}"  # then rename: never a half-written STL
    with open(tmp, "wb") as f:
        f.write(b"flare-surrogate example: twisted turbine blade, mm".ljust(80, b" "))
        f.write(struct.pack("<I", len(tris)))
        for a, b, c in tris:
            f.write(struct.pack("<12fH", *normal(a, b, c), *a, *b, *c, 0))
    os.replace(tmp, sys.argv[1])
    print(f"{sys.argv[1]}: {len(tris)} triangles, volume {signed_volume(tris):.1f} mm^3")


if __name__ == "__main__":
    main()
