#!/usr/bin/env python3
"""Writes the sixteen held-out parts: closed binary STLs (millimetres, standing on z = 0) of the
kinds of parts users print, made without any of flare-surrogate's part families. The first ten: a
turned bushing, a spur gear, a pipe elbow, raised lettering, a twisted vase, a phone stand, a hook,
a dome, a hex standoff and an upright spoked wheel. Six more, added once the `sweep` and `shell`
families had given the elbow, hook, vase and dome (and the wheel's rim) close siblings in
training: a helical compression spring with closed, ground ends, an open impeller with backswept
blades, a V-groove pulley with a keyway, a printed hydraulic manifold (the walls of intersecting
round channels, no block), a topology-optimised-looking bracket of blended struts and a pin-fin
cooler core. Each is a signed distance field in numpy, contoured by VTK's flying edges and
decimated (the first ten to 6,000 triangles, the six to 4,000); `parts.txt` gets each part's voxel
size for about 12,000 nodes.

    /usr/bin/python3 examples/heldout/make_parts.py examples/heldout   # python3-vtk9, numpy

The accuracy of a model on these parts (examples/heldout/README.md) is the repository's stand-in
for real CAD parts: the training data never contains them. Since `sweep` and `shell` joined the
families, elbow, hook, vase and dome have siblings there; the real-part target is judged on the
other twelve, whose shapes no family makes. Deterministic: the same files on every run, and the
first ten files are the same as before the six were added.
"""
import math
import os
import sys

import numpy as np
import vtk
from vtk.util.numpy_support import numpy_to_vtk

STEP = 0.35  # mm, SDF sampling
TARGET_NODES = 12000
TRIANGLES = 6000  # after decimation: small files, still far finer than the voxels
NEW_TRIANGLES = 4000  # the six parts added later: smaller files still (the repository travels)


# --- signed distance primitives (negative inside) and operations ------------------------------
def box(p, lo, hi):
    c = (np.asarray(lo) + np.asarray(hi)) / 2
    h = (np.asarray(hi) - np.asarray(lo)) / 2
    q = np.abs(p - c) - h
    out = np.linalg.norm(np.maximum(q, 0), axis=-1)
    return out + np.minimum(np.max(q, axis=-1), 0)


def cyl_z(p, cx, cy, r, z0, z1):
    d_r = np.hypot(p[..., 0] - cx, p[..., 1] - cy) - r
    d_z = np.maximum(z0 - p[..., 2], p[..., 2] - z1)
    q = np.stack([d_r, d_z], -1)
    return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(np.max(q, axis=-1), 0)


def cyl_x(p, cy, cz, r, x0, x1):
    return cyl_z(p[..., [1, 2, 0]], cy, cz, r, x0, x1)


def sphere(p, c, r):
    return np.linalg.norm(p - np.asarray(c), axis=-1) - r


def union(*ds):
    return np.minimum.reduce(ds)


def inter(*ds):
    return np.maximum.reduce(ds)


def diff(a, *bs):
    return np.maximum(a, -union(*bs)) if len(bs) > 1 else np.maximum(a, -bs[0])


def capsule(p, a, b, r):
    a, b = np.asarray(a, float), np.asarray(b, float)
    pa, ba = p - a, b - a
    t = np.clip((pa @ ba) / (ba @ ba), 0, 1)
    return np.linalg.norm(pa - t[..., None] * ba, axis=-1) - r


def smin(k, *ds):  # polynomial smooth minimum: fillets of about k between the operands
    d = ds[0]
    for e in ds[1:]:
        h = np.clip(0.5 + 0.5 * (e - d) / k, 0, 1)
        d = e * (1 - h) + d * h - k * h * (1 - h)
    return d


def cyl_y(p, cx, cz, r, y0, y1):
    return cyl_z(p[..., [2, 0, 1]], cz, cx, r, y0, y1)


# --- the parts -------------------------------------------------------------------------------
def bushing(p):  # turned: flange with four bolt holes, body, through bore, a groove
    body = union(cyl_z(p, 0, 0, 14, 0, 4), cyl_z(p, 0, 0, 8, 0, 24))
    groove = inter(cyl_z(p, 0, 0, 20, 15, 17), -cyl_z(p, 0, 0, 6.8, 14, 18))
    holes = [cyl_z(p, 11 * math.cos(a), 11 * math.sin(a), 1.6, -1, 5) for a in np.arange(4) * math.pi / 2 + math.pi / 4]
    return diff(body, cyl_z(p, 0, 0, 5, -1, 25), groove, *holes)


def gear(p):  # 16 teeth, flat on the plate, hub and bore
    r = np.hypot(p[..., 0], p[..., 1])
    th = np.arctan2(p[..., 1], p[..., 0])
    tooth = 1.6 * np.clip(2.2 * np.cos(16 * th), -1, 1)
    rim = inter(r - (17 + tooth), -p[..., 2], p[..., 2] - 6)
    hub = cyl_z(p, 0, 0, 7, 0, 12)
    web_holes = [cyl_z(p, 10.5 * math.cos(a), 10.5 * math.sin(a), 2.4, -1, 7) for a in np.arange(6) * math.pi / 3]
    return diff(union(rim, hub), cyl_z(p, 0, 0, 3.5, -1, 13), *web_holes)


def elbow(p):  # a tube rising from a flange and turning 90 degrees to horizontal
    R, ro, ri = 16.0, 5.0, 3.6
    x, z = p[..., 0] + R, p[..., 2] - 6  # bend centre at (-R, y, 6)
    in_quarter = (x >= 0) & (z >= 0)
    ring = np.hypot(np.hypot(x, z) - R, p[..., 1])
    straight_up = np.hypot(p[..., 0], p[..., 1])  # below the bend: vertical tube along z
    d_up = np.where(p[..., 2] < 6, straight_up, np.inf)
    d_out = np.where(x < 0, np.hypot(p[..., 1], p[..., 2] - 6 - R), np.inf)  # after: along -x
    centre = np.where(in_quarter, ring, np.minimum(d_up, d_out))
    tube = inter(centre - ro, -(centre - ri))
    tube = inter(tube, -p[..., 2], p[..., 0] - 7, -(p[..., 0] + R + 6))
    flange = diff(cyl_z(p, 0, 0, 9, 0, 3), cyl_z(p, 0, 0, ri, -1, 4))
    return union(tube, flange)


STROKES = {  # letters of "LPBF" as strokes on a 6 x 10 cell (x, z in the letter's plane)
    "L": [((0, 0), (0, 10)), ((0, 0), (5, 0))],
    "P": [((0, 0), (0, 10)), ((0, 10), (4, 10)), ((4, 10), (5, 8)), ((5, 8), (4, 5.5)), ((4, 5.5), (0, 5.5))],
    "B": [((0, 0), (0, 10)), ((0, 10), (4, 10)), ((4, 10), (5, 8.2)), ((5, 8.2), (4, 5.5)), ((0, 5.5), (4, 5.5)),
          ((4, 5.5), (5, 3)), ((5, 3), (4, 0)), ((4, 0), (0, 0))],
    "F": [((0, 0), (0, 10)), ((0, 10), (5, 10)), ((0, 5.5), (4, 5.5))],
}


def lettering(p):  # raised letters on a plate, lying flat
    d = box(p, (-2, -3, 0), (30, 13, 2.5))
    flat = p * np.array([1.0, 1.0, 0.0])  # strokes are 2D, extruded up to z = 7
    for k, ch in enumerate("LPBF"):
        for a, b in STROKES[ch]:
            d = union(d, inter(capsule(flat, (1 + 7.2 * k + a[0], a[1], 0), (1 + 7.2 * k + b[0], b[1], 0), 1.0),
                               p[..., 2] - 7, -p[..., 2]))
    return d


def vase(p):  # square section twisted by 90 degrees, thin wall, closed bottom
    z = p[..., 2]
    a = -(math.pi / 2) * np.clip(z / 32, 0, 1)
    x = p[..., 0] * np.cos(a) - p[..., 1] * np.sin(a)
    y = p[..., 0] * np.sin(a) + p[..., 1] * np.cos(a)
    q = np.stack([x, y, z], -1)
    outer = box(q, (-9, -9, 0), (9, 9, 32))
    inner = box(q, (-7.4, -7.4, 1.6), (7.4, 7.4, 33))
    return 0.7 * diff(outer, inner)  # twisting stretches distances: keep the field conservative


def stand(p):  # base, a back plate leaning at 65 degrees (an overhang), a lip
    base = box(p, (0, 0, 0), (36, 30, 3))
    lip = box(p, (0, 22, 0), (36, 30, 9))
    t = math.radians(65)
    n = np.array([0, math.sin(t), -math.cos(t)])  # plate through (0, 20, 0) tilted back
    s = (p - np.array([0, 18, 0])) @ n
    along = (p - np.array([0, 18, 0])) @ np.array([0, math.cos(t), math.sin(t)])
    plate = inter(np.abs(s) - 1.6, -along, along - 30, -p[..., 0], p[..., 0] - 36, -p[..., 2])
    return union(base, lip, plate)


def hook(p):  # a post with a J bend on top: overhang all round the curve
    post = box(p, (-3, -3, 0), (3, 3, 26))
    foot = box(p, (-8, -8, 0), (8, 8, 3))
    c = np.array([8.0, 0, 26])
    r = np.hypot(p[..., 0] - c[0], p[..., 2] - c[2])
    half = np.where(p[..., 2] >= c[2], np.hypot(r - 8, p[..., 1]), np.inf)
    tip = np.hypot(np.hypot(p[..., 0] - 16, p[..., 1]), np.maximum(0, 20 - p[..., 2]) + np.maximum(0, p[..., 2] - 26)) - 2.6
    return union(post, foot, half - 2.6, tip)


def dome(p):  # a hemispherical shell on a ring, hollow: the inside is one large overhang
    shell = inter(sphere(p, (0, 0, 4), 16), -sphere(p, (0, 0, 4), 14.5), 4 - p[..., 2])
    ring = diff(cyl_z(p, 0, 0, 16, 0, 4), cyl_z(p, 0, 0, 13, -1, 5))
    vent = cyl_z(p, 0, 0, 3, 15, 21)
    return diff(union(shell, ring), vent)


def standoff(p):  # hex prism with a bore and a collar
    q = np.abs(p[..., :2])
    hexd = np.maximum(q[..., 0] * math.cos(math.pi / 6) + q[..., 1] * 0.5, q[..., 1]) - 6
    prism = inter(hexd, -p[..., 2], p[..., 2] - 28)
    collar = cyl_z(p, 0, 0, 8.5, 8, 11)
    return diff(union(prism, collar), cyl_z(p, 0, 0, 2.5, -1, 29), cyl_z(p, 0, 0, 4, 24, 29))


def wheel(p):  # upright: rim, five spokes and a hub, on a small foot
    y = p[..., 1]
    c = np.array([0, 0, 18.0])
    rr = np.hypot(p[..., 0] - c[0], p[..., 2] - c[2])
    rim = inter(np.abs(rr - 15.5) - 1.8, np.abs(y) - 3)
    hub = inter(rr - 4.5, np.abs(y) - 4)
    d = union(rim, hub)
    for k in range(5):
        a = 2 * math.pi * k / 5
        d = union(d, capsule(p, c, c + 15 * np.array([math.cos(a), 0, math.sin(a)]), 1.3))
    foot = box(p, (-6, -5, 0), (6, 5, 3))
    return diff(union(d, foot), cyl_x(p[..., [1, 0, 2]], 0, 18, 1.8, -6, 6))


# --- six more, added with the `sweep` and `shell` families in training: kinds printed in metal that
# no family makes
def spring(p):  # helical compression spring on end: closed and ground end coils, four active coils
    R, rw = 10.0, 1.6  # coil radius, wire radius
    d = 2 * rw
    # centre height along the wire's angle: one closed turn (pitch 0.85 d: fused to the next one),
    # four active turns, one closed turn; the ends start below the plate and above the top: ground
    zs = np.cumsum([-0.5 * rw, 0.85 * d] + [6.5] * 4 + [0.85 * d])
    H = zs[-1] - 0.5 * rw
    turns = len(zs) - 1
    r = np.hypot(p[..., 0], p[..., 1])
    th = np.arctan2(p[..., 1], p[..., 0])
    z = p[..., 2]
    t = th / (2 * np.pi) + 0.5  # 0..1 through a turn, the seam at -x
    coils = [np.hypot(r - R, z - (zs[k] + (zs[k + 1] - zs[k]) * t)) for k in range(turns)]
    return inter(smin(1.0, *coils) - rw, z - H)  # smooth: a fillet where the closed coils touch


def impeller(p):  # open impeller: a disc, a hub with a bore, seven backswept blades
    r = np.hypot(p[..., 0], p[..., 1])
    th = np.arctan2(p[..., 1], p[..., 0])
    z = p[..., 2]
    disc = cyl_z(p, 0, 0, 18, 0, 2.5)
    hub = cyl_z(p, 0, 0, 6, 0, 15)
    r0, r1, sweep, n, t = 5.0, 17.5, math.radians(55), 7, 2.4
    slope = sweep / (r1 - r0)  # d(theta)/dr of the blade's centre line, swept back
    rel = th + slope * (r - r0)
    rel = (rel + math.pi / n) % (2 * math.pi / n) - math.pi / n  # to the nearest blade
    across = np.abs(rel) * r / np.sqrt(1 + (r * slope) ** 2)  # distance across the blade
    height = 12 - 6 * np.clip((r - r0) / (r1 - r0), 0, 1)  # tall at the hub, low at the rim
    blades = inter(across - t / 2, r - r1, z - height, -z)
    return diff(union(disc, hub, blades), cyl_z(p, 0, 0, 2.5, -1, 16))


def pulley(p):  # V-groove pulley, flat: rim, a web with five holes, a hub, a bore with a keyway
    r = np.hypot(p[..., 0], p[..., 1])
    z = p[..., 2]
    rim = inter(r - 17.5, 12 - r, -z, z - 12)
    web = cyl_z(p, 0, 0, 12.5, 0, 4)
    hub = cyl_z(p, 0, 0, 7.5, 0, 18)
    g = math.radians(30)  # half the groove's angle
    groove = np.abs(z - 6) * math.cos(g) - (r - 13.5) * math.sin(g)
    holes = [cyl_z(p, 9.8 * math.cos(a), 9.8 * math.sin(a), 1.8, -1, 5) for a in np.arange(5) * 2 * math.pi / 5]
    key = box(p, (-1.3, 0, -1), (1.3, 5.6, 19))
    return diff(union(rim, web, hub), groove, cyl_z(p, 0, 0, 4, -1, 19), key, *holes)


def manifold(p):  # printed hydraulic manifold: the walls of its intersecting channels, no block
    ro, ri = 4.5, 2.4
    runs = [((-15, 0, 8), (15, 0, 8)),  # gallery along x
            ((-8, 0, 8), (-8, 0, 26)),  # up to a top port
            ((7, 0, 8), (7, 0, 19)), ((7, 0, 19), (7, 13, 19)),  # up and out to the side
            ((0, 0, 8), (0, -13, 8))]  # a branch to the front
    walls = smin(2.0, *[capsule(p, a, b, ro) for a, b in runs])
    ports = [cyl_x(p, 0, 8, 6.5, -16.5, -13.5), cyl_x(p, 0, 8, 6.5, 13.5, 16.5), cyl_z(p, -8, 0, 6.5, 23, 26),
             cyl_y(p, 7, 19, 6.5, 11, 14), cyl_y(p, 0, 8, 6.5, -14, -11)]
    feet = [box(p, (x - 3.5, -4, 0), (x + 3.5, 4, 8)) for x in (-11, 11)]
    body = smin(1.5, walls, *ports, *feet)
    body = inter(body, p[..., 0] - 16.5, -16.5 - p[..., 0], p[..., 2] - 26, p[..., 1] - 14, -14 - p[..., 1])
    bores = union(*[capsule(p, a, b, ri) for a, b in runs],
                  cyl_x(p, 0, 8, ri, -20, 20), cyl_z(p, -8, 0, ri, 8, 30), cyl_y(p, 7, 19, ri, 10, 20),
                  cyl_y(p, 0, 8, ri, -20, 0))
    return diff(body, bores)


def bracket(p):  # topology-optimised look: struts blended into three feet and a lug with a pin hole
    feet = [(-13, -8), (-13, 8), (12, 0)]
    eye = np.array([4.0, 0, 24])
    d = [cyl_z(p, x, y, 5, 0, 3) for x, y in feet]
    d.append(cyl_y(p, eye[0], eye[2], 5.5, -5, 5))
    d += [capsule(p, (x, y, 2), eye + (0, np.sign(y) * 2.5, 0), 2.4) for x, y in feet[:2]]
    d += [capsule(p, (12, 0, 2), eye, 2.8),
          capsule(p, (-13, -8, 1.5), (12, 0, 1.5), 1.8), capsule(p, (-13, 8, 1.5), (12, 0, 1.5), 1.8),
          capsule(p, (-13, -8, 1.5), (-13, 8, 1.5), 1.8),
          capsule(p, (-13, 0, 2), (-3, 0, 13), 2.0)]
    body = smin(2.5, *d)
    body = inter(body, -p[..., 2])
    holes = [cyl_z(p, x, y, 2.0, -1, 8) for x, y in feet] + [cyl_y(p, eye[0], eye[2], 2.8, -9, 9)]
    return diff(body, *holes)


def pinfin(p):  # pin-fin cooler core: staggered round pins between a base and a cover, two side walls
    d = [box(p, (-16, -12, 0), (16, 12, 2.5)), box(p, (-16, -12, 12.5), (16, 12, 14.5)),
         box(p, (-16, -12, 0), (16, -10, 14.5)), box(p, (-16, 10, 0), (16, 12, 14.5))]
    for j, y in enumerate(np.arange(-6.8, 7, 4.5)):
        for x in np.arange(-13.5 + 2.7 * (j % 2), 14, 5.4):
            d.append(cyl_z(p, x, y, 1.5, 1, 14))
    return union(*d)


PARTS = [("bushing", bushing), ("gear", gear), ("elbow", elbow), ("lettering", lettering),
         ("vase", vase), ("stand", stand), ("hook", hook), ("dome", dome),
         ("standoff", standoff), ("wheel", wheel)]
# Added later, at fewer triangles, with coincident points merged and degenerate triangles dropped
# before decimation: where the surface passes through sampling points flying edges leaves both, and
# decimating that mesh to 4,000 triangles tore thin blades and pins (the impeller lost 40% of its
# volume, the pin-fin core got open edges). The first ten keep the path that made them, so their
# files stay the same byte for byte.
NEW_PARTS = [("spring", spring), ("impeller", impeller), ("pulley", pulley), ("manifold", manifold),
             ("bracket", bracket), ("pinfin", pinfin)]


def contour(sdf, triangles=TRIANGLES, merge=False):
    lo, hi = np.array([-45.0, -45.0, -1.0]), np.array([45.0, 45.0, 60.0])
    n = np.ceil((hi - lo) / STEP).astype(int) + 1
    axes = [lo[i] + STEP * np.arange(n[i]) for i in range(3)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    d = sdf(np.stack([xx, yy, zz], -1))
    d = np.maximum(d, -zz)  # nothing below the plate
    img = vtk.vtkImageData()
    img.SetDimensions(*n)
    img.SetOrigin(*lo)
    img.SetSpacing(STEP, STEP, STEP)
    img.GetPointData().SetScalars(numpy_to_vtk(np.ascontiguousarray(d.ravel()), deep=True))
    fe = vtk.vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, 0.0)
    fe.ComputeNormalsOff()
    fe.Update()
    source = fe.GetOutputPort()
    if merge:  # coincident points merged, the triangles they collapse dropped
        clean = vtk.vtkCleanPolyData()
        clean.SetInputConnection(source)
        clean.SetTolerance(0.0)
        source = clean.GetOutputPort()
    tri = vtk.vtkTriangleFilter()
    tri.SetInputConnection(source)
    if merge:
        tri.PassVertsOff()
        tri.PassLinesOff()
    tri.Update()
    dec = vtk.vtkQuadricDecimation()
    dec.SetInputConnection(tri.GetOutputPort())
    dec.SetTargetReduction(max(0.0, 1 - triangles / tri.GetOutput().GetNumberOfCells()))
    dec.VolumePreservationOn()
    dec.Update()
    # The field is negative inside, so the contour's triangles face inwards: turn them outwards.
    rev = vtk.vtkReverseSense()
    rev.SetInputConnection(dec.GetOutputPort())
    rev.ReverseCellsOn()
    rev.Update()
    return rev.GetOutput()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    lines = []
    todo = [(n, f, TRIANGLES, False) for n, f in PARTS]
    todo += [(n, f, NEW_TRIANGLES, True) for n, f in NEW_PARTS]
    for name, sdf, triangles, merge in todo:
        surf = contour(sdf, triangles, merge)
        mass = vtk.vtkMassProperties()
        mass.SetInputData(surf)
        vol = mass.GetVolume()
        b = surf.GetBounds()
        # Voxel nodes of a solid are about its volume over h^3 plus a surface layer: 1.3 covers it.
        h = round((1.3 * vol / TARGET_NODES) ** (1 / 3), 2)
        w = vtk.vtkSTLWriter()
        w.SetFileName(os.path.join(out, name + ".stl"))
        w.SetInputData(surf)
        w.SetFileTypeToBinary()
        w.Write()
        lines.append(f"{name} {h}")
        print(f"{name}: {surf.GetNumberOfCells()} triangles, volume {vol:.0f} mm3, "
              f"size {b[1]-b[0]:.1f} x {b[3]-b[2]:.1f} x {b[5]-b[4]:.1f} mm, voxel {h} mm")
    with open(os.path.join(out, "parts.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
