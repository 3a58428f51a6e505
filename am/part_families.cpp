#include "am/part_families.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "am/part_csg.h"
#include "am/part_loft.h"
#include "am/part_params.h"
#include "am/part_pattern.h"
#include "am/part_plate.h"
#include "am/part_shell.h"
#include "am/part_sweep.h"

namespace flare::am {

using Eigen::Vector3d;
using nlohmann::json;

namespace {

constexpr double kDeg = std::numbers::pi / 180;

Shape l_bracket(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 20, 60), W = draw(rng, p, "width", 8, 30);
  double H = draw(rng, p, "height", 10, 40);
  double tb = draw(rng, p, "leg_thickness", 2, 6), tw = draw(rng, p, "upright_thickness", 2, 6);
  bool standing = rng.chance(0.5);
  p["orientation"] = standing ? "standing" : "flat";
  Shape upright = box(Vector3d(0, 0, 0), Vector3d(tw, W, H));
  // Flat: the long leg lies on the plate. Standing: the long leg is at the top, an overhang.
  Shape leg = standing ? box(Vector3d(0, 0, H - tb), Vector3d(L, W, H)) : box(Vector3d(0, 0, 0), Vector3d(L, W, tb));
  return unite(upright, leg);
}

Shape wall(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 15, 60), t = draw(rng, p, "thickness", 3, 8);
  double H = draw(rng, p, "height", 10, 40);
  return box(Vector3d(0, 0, 0), Vector3d(L, t, H));
}

Shape thin_wall(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 10, 50), t = draw(rng, p, "thickness", 0.8, 2.5);
  double H = draw(rng, p, "height", 8, 35);
  return box(Vector3d(0, 0, 0), Vector3d(L, t, H));
}

Shape cantilever(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 25, 70), W = draw(rng, p, "width", 5, 20);
  double tb = draw(rng, p, "beam_thickness", 2, 5), hs = draw(rng, p, "support_height", 4, 20);
  double a = draw(rng, p, "support_length", 0.15 * L, 0.4 * L);
  int teeth = draw_int(rng, p, "teeth", 0, 6);
  Shape s = unite(box(Vector3d(0, 0, hs), Vector3d(L, W, hs + tb)), box(Vector3d(0, 0, 0), Vector3d(a, W, hs)));
  if (teeth > 0) {
    // The classic benchmark's comb: thin supports under the free span, cut off after the build.
    double tw = draw(rng, p, "tooth_width", 0.8, 2);
    double span = L - a - tw;
    for (int i = 1; i <= teeth; ++i) {
      double x = a + span * i / (teeth + 1);
      s = unite(s, box(Vector3d(x, 0, 0), Vector3d(x + tw, W, hs + 0.01)));
    }
  }
  s.min_feature = std::min(s.min_feature, tb);
  return s;
}

Shape bridge(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 30, 80), W = draw(rng, p, "width", 5, 20);
  double H = draw(rng, p, "height", 10, 30), td = draw(rng, p, "deck_thickness", 2, 6);
  double pw = draw(rng, p, "pillar_width", 3, std::min(10.0, 0.3 * L));
  bool arch = rng.chance(0.5);
  p["arch"] = arch;
  if (arch) {
    Shape block = box(Vector3d(0, 0, 0), Vector3d(L, W, H));
    Shape opening = elliptic_cylinder_y(L / 2, 0, L / 2 - pw, H - td, -1, W + 1);
    Shape s = subtract(block, opening);
    s.min_feature = std::min(td, pw);
    return s;
  }
  Shape s = unite(box(Vector3d(0, 0, H - td), Vector3d(L, W, H)),
                  unite(box(Vector3d(0, 0, 0), Vector3d(pw, W, H)), box(Vector3d(L - pw, 0, 0), Vector3d(L, W, H))));
  return s;
}

Shape overhang(Rng& rng, json& p) {
  double W = draw(rng, p, "width", 5, 25), H = draw(rng, p, "pillar_height", 5, 25);
  double tp = draw(rng, p, "pillar_thickness", 3, 10), L = draw(rng, p, "overhang_length", 10, 40);
  double t = draw(rng, p, "overhang_thickness", 1.5, 5), angle = draw(rng, p, "angle_deg", 15, 60);
  Shape pillar = box(Vector3d(0, 0, 0), Vector3d(tp, W, H));
  // The plate starts inside the pillar top and rises at `angle` from horizontal, its underside a
  // down-facing surface as in overhang test artefacts.
  Shape plate = tilted_box(Vector3d(L, W, t), angle * kDeg, Vector3d(0, 0, H - t));
  return unite(pillar, plate);
}

Shape tube(Rng& rng, json& p) {
  double R = draw(rng, p, "radius", 4, 20), H = draw(rng, p, "height", 8, 50);
  double t = draw(rng, p, "wall_thickness", 1, std::min(4.0, 0.6 * R));
  Vector3d c(R, R, 0);
  Shape s = subtract(cylinder(2, c, R, 0, H), cylinder(2, c, R - t, -1, H + 1));
  s.min_feature = t;
  return s;
}

Shape cylinder_holes(Rng& rng, json& p) {
  double R = draw(rng, p, "radius", 6, 20), H = draw(rng, p, "height", 10, 40);
  int nv = draw_int(rng, p, "vertical_holes", 0, 5), nh = draw_int(rng, p, "horizontal_holes", nv == 0 ? 1 : 0, 3);
  Vector3d c(R, R, 0);
  Shape s = cylinder(2, c, R, 0, H);
  double wall = R;
  if (nv > 0) {
    // Holes on a ring at R/2, keeping at least 1 mm of material between them and to the skin.
    double ring = R / 2;
    double rmax = std::min(R / 2 - 1, std::numbers::pi * ring / nv - 0.5);
    double r = draw(rng, p, "vertical_hole_radius", std::min(1.0, 0.5 * rmax), rmax);
    for (int i = 0; i < nv; ++i) {
      double phi = 2 * std::numbers::pi * i / nv;
      s = subtract(s, cylinder(2, c + ring * Vector3d(std::cos(phi), std::sin(phi), 0), r, -1, H + 1));
    }
    wall = std::min(wall, R - ring - r);
  }
  if (nh > 0) {
    double rmax = std::min(H / (2.0 * nh + 2), R / 3);
    double r = draw(rng, p, "horizontal_hole_radius", 0.5 * rmax, rmax);
    int axis = rng.integer(0, 1);
    p["horizontal_hole_axis"] = axis == 0 ? "x" : "y";
    for (int i = 1; i <= nh; ++i) {
      Vector3d at = c;
      at.z() = H * i / (nh + 1);
      s = subtract(s, cylinder(axis, at, r, -1, 2 * R + 1));
    }
    wall = std::min(wall, H / (nh + 1) - 2 * r);
  }
  s.min_feature = std::max(wall, 0.5);
  return s;
}

// T or I cross-section in the y-z plane, extruded along x.
Shape t_beam(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 20, 70), bf = draw(rng, p, "flange_width", 8, 25);
  double tf = draw(rng, p, "flange_thickness", 1.5, 5), hw = draw(rng, p, "web_height", 5, 20);
  double tw = draw(rng, p, "web_thickness", 1.5, std::min(5.0, 0.5 * bf));
  bool flange_up = rng.chance(0.5);
  p["orientation"] = flange_up ? "flange_up" : "flange_down";
  double y0 = (bf - tw) / 2;
  if (flange_up)
    return unite(box(Vector3d(0, y0, 0), Vector3d(L, y0 + tw, hw)), box(Vector3d(0, 0, hw - 0.01), Vector3d(L, bf, hw + tf)));
  return unite(box(Vector3d(0, 0, 0), Vector3d(L, bf, tf)), box(Vector3d(0, y0, tf - 0.01), Vector3d(L, y0 + tw, tf + hw)));
}

Shape i_beam(Rng& rng, json& p) {
  double L = draw(rng, p, "length", 20, 70), bf = draw(rng, p, "flange_width", 8, 25);
  double tf = draw(rng, p, "flange_thickness", 1.5, 5), hw = draw(rng, p, "web_height", 5, 25);
  double tw = draw(rng, p, "web_thickness", 1.5, std::min(5.0, 0.5 * bf));
  double y0 = (bf - tw) / 2;
  Shape s = box(Vector3d(0, 0, 0), Vector3d(L, bf, tf));
  s = unite(s, box(Vector3d(0, y0, tf - 0.01), Vector3d(L, y0 + tw, tf + hw + 0.01)));
  return unite(s, box(Vector3d(0, 0, tf + hw), Vector3d(L, bf, 2 * tf + hw)));
}

Shape ribs(Rng& rng, json& p) {
  double Lx = draw(rng, p, "length", 20, 60), Ly = draw(rng, p, "width", 15, 50);
  double tb = draw(rng, p, "base_thickness", 1.5, 5), hr = draw(rng, p, "rib_height", 3, 20);
  double tr = draw(rng, p, "rib_thickness", 1, 3);
  int n = draw_int(rng, p, "ribs", 2, 6), m = draw_int(rng, p, "cross_ribs", 0, 3);
  Shape s = box(Vector3d(0, 0, 0), Vector3d(Lx, Ly, tb));
  for (int i = 0; i < n; ++i) {
    double y = (Ly - tr) * i / (n - 1);
    s = unite(s, box(Vector3d(0, y, tb - 0.01), Vector3d(Lx, y + tr, tb + hr)));
  }
  for (int i = 1; i <= m; ++i) {
    double x = (Lx - tr) * i / (m + 1);
    s = unite(s, box(Vector3d(x, 0, tb - 0.01), Vector3d(x + tr, Ly, tb + hr)));
  }
  s.min_feature = std::min(tb, tr);
  return s;
}

Shape lattice(Rng& rng, json& p) {
  int cx = draw_int(rng, p, "cells_x", 2, 4), cy = draw_int(rng, p, "cells_y", 2, 4), cz = draw_int(rng, p, "cells_z", 1, 3);
  double a = draw(rng, p, "cell_size", 4, 10), r = draw(rng, p, "strut_radius", 0.1 * a, 0.2 * a);
  double tb = draw(rng, p, "base_thickness", 1, 3);
  bool bcc = rng.chance(0.5);
  p["type"] = bcc ? "bcc" : "cubic";
  Vector3d lo(0, 0, 0), hi(cx * a, cy * a, tb + cz * a);
  // Struts on every lattice line (and body diagonals for BCC), by periodic folding into one cell.
  Sdf struts = [=](const Vector3d& x) {
    Vector3d q = x - Vector3d(0, 0, tb);
    Vector3d n = q - a * (q / a).array().round().matrix();  // offset from the nearest node
    double d = std::min({std::hypot(n.y(), n.z()), std::hypot(n.x(), n.z()), std::hypot(n.x(), n.y())}) - r;
    if (bcc) {
      Vector3d m = q - a * ((q / a).array().floor() + 0.5).matrix();  // offset from the cell centre
      for (int sx = -1; sx <= 1; sx += 2)
        for (int sy = -1; sy <= 1; sy += 2) {
          Vector3d dir = Vector3d(sx, sy, 1) / std::sqrt(3.0);
          d = std::min(d, (m - m.dot(dir) * dir).norm() - r);
        }
    }
    return d;
  };
  Shape frame;
  frame.sdf = struts;
  frame.box = Eigen::AlignedBox3d(lo, hi);
  frame.min_feature = 2 * r;
  Shape s = intersect(frame, box(lo, hi));
  s = unite(s, box(lo, Vector3d(hi.x(), hi.y(), tb)));
  s.min_feature = std::min(2 * r, tb);
  return s;
}

Shape gyroid(Rng& rng, json& p) {
  double Lx = draw(rng, p, "length", 10, 30), Ly = draw(rng, p, "width", 10, 30), Lz = draw(rng, p, "height", 8, 25);
  double period = draw(rng, p, "period", 5, 10), level = draw(rng, p, "thickness_level", 0.3, 0.9);
  double tb = draw(rng, p, "base_thickness", 1, 3);
  bool sheet = rng.chance(0.5);
  p["type"] = sheet ? "sheet" : "network";
  const double k = 2 * std::numbers::pi / period;
  // |grad g| is about k, so g/k is roughly a distance; sheet: |g| < level, network: g < level.
  Sdf g = [=](const Vector3d& x) {
    double v = std::sin(k * x.x()) * std::cos(k * x.y()) + std::sin(k * x.y()) * std::cos(k * x.z()) +
               std::sin(k * x.z()) * std::cos(k * x.x());
    return ((sheet ? std::abs(v) : v) - level) / k;
  };
  Shape field;
  field.sdf = g;
  field.box = Eigen::AlignedBox3d(Vector3d(0, 0, 0), Vector3d(Lx, Ly, Lz));
  Shape s = unite(intersect(field, box(Vector3d(0, 0, 0), Vector3d(Lx, Ly, Lz))), box(Vector3d(0, 0, 0), Vector3d(Lx, Ly, tb)));
  s.min_feature = std::min(tb, sheet ? 2 * level / k : 0.25 * period);
  return s;
}

// A base part from another family, united with one or two more standing beside or on it, minus
// up to two holes. Islands cut off by the holes are dropped later with the other floating voxels.
Shape composite(Rng& rng, json& p) {
  const auto& table = family_table();
  // The families before composite itself (not the ones added later: a seed keeps its part).
  const auto self = std::find_if(table.begin(), table.end(), [](const PartFamily& f) { return f.build == composite; });
  const int simple = int(self - table.begin());
  auto pick = [&](json& into) {
    const PartFamily& f = table[std::size_t(rng.integer(0, simple - 1))];
    into["family"] = f.name;
    return f.build(rng, into["params"]);
  };
  json base;
  Shape s = pick(base);
  p["base"] = base;
  int adds = rng.integer(1, 2);
  for (int i = 0; i < adds; ++i) {
    json add;
    Shape other = pick(add);
    // Overlap the two footprints: move the other part's origin somewhere inside the base's box.
    Vector3d size = s.box.sizes();
    Vector3d off(std::round(rng.uniform(0.2, 0.9) * size.x() * 100) / 100,
                 std::round(rng.uniform(0.0, 0.6) * size.y() * 100) / 100, 0);
    add["offset"] = {off.x(), off.y(), 0};
    s = unite(s, translate(other, off));
    p["add"].push_back(add);
  }
  int holes = rng.integer(0, 2);
  p["subtract"] = json::array();
  for (int i = 0; i < holes; ++i) {
    Vector3d lo = s.box.min(), size = s.box.sizes();
    double r = std::round(rng.uniform(0.05, 0.15) * std::min(size.x(), size.y()) * 100) / 100 + 0.5;
    int axis = rng.integer(0, 2);
    Vector3d c = lo + Vector3d(rng.uniform(0.2, 0.8) * size.x(), rng.uniform(0.2, 0.8) * size.y(),
                               rng.uniform(0.3, 0.8) * size.z());
    c = (c * 100).array().round().matrix() / 100;
    p["subtract"].push_back({{"axis", std::string(1, "xyz"[axis])}, {"center", {c.x(), c.y(), c.z()}}, {"radius", r}});
    double lo_a = lo[axis] - 1, hi_a = lo[axis] + size[axis] + 1;
    // A vertical hole must not cut the first layers: the part has to stay on the plate.
    if (axis == 2) lo_a = std::max(lo_a, 0.3 * size.z());
    s = subtract(s, cylinder(axis, c, r, lo_a, hi_a));
  }
  return s;
}

}  // namespace

const std::vector<PartFamily>& family_table() {
  static const std::vector<PartFamily> table = {
      {"l_bracket", "L-bracket, flat on the plate or standing with an overhanging leg", l_bracket},
      {"wall", "straight wall", wall},
      {"thin_wall", "thin wall (0.8-2.5 mm), prone to bending", thin_wall},
      {"cantilever", "cantilever beam on a support block, optionally with comb teeth", cantilever},
      {"bridge", "bridge: deck on two pillars, or an arch", bridge},
      {"overhang", "pillar with a plate rising at 15-60 degrees", overhang},
      {"tube", "vertical tube", tube},
      {"cylinder_holes", "solid cylinder with vertical and/or horizontal holes", cylinder_holes},
      {"t_beam", "T-beam, flange up or down", t_beam},
      {"i_beam", "I-beam", i_beam},
      {"ribs", "base plate with parallel and cross ribs", ribs},
      {"lattice", "cubic or BCC strut lattice on a base plate", lattice},
      {"gyroid", "gyroid sheet or network block on a base plate", gyroid},
      {"composite", "union of 2-3 parts of the other families minus up to two holes", composite},
      {.name = "csg",
       .description = "random CAD-like part: block, housing, turned part, profile, bar or bracket with holes, "
                      "pockets, bosses, ribs, ledges, bridges, channels and text; 10-120 mm",
       .build = csg_part,
       .one_solid = true,
       .added_later = true},
      {.name = "sweep",
       .description = "round rod or tube swept along a bent path: a pipe elbow on a flange, an arch, a hook on "
                      "a foot, or an upright ring with spokes; about a third of them hollow",
       .build = sweep_part,
       .one_solid = true,
       .added_later = true},
      {.name = "shell",
       .description = "thin-walled hollow body: a dome with a vent, an open cup, a box enclosure, or a twisted "
                      "polygonal vase",
       .build = shell_part,
       .one_solid = true,
       .added_later = true},
      {.name = "pattern",
       .description = "repeated slender features in circular, linear and helical patterns: blades on an "
                      "impeller, spokes, radial fins, pin grids, fin arrays, coils and threads, bolt circles, "
                      "teeth and castellations; 10-120 mm",
       .build = pattern_part,
       .one_solid = true,
       .added_later = true},
      {.name = "plate",
       .description = "thin plate or vane standing on edge: a leaf (tapered, leaning, bowed, with holes), two "
                      "leaves on a knuckle (a hinge on end), a twisted airfoil on a root, or a flat lever on "
                      "its foot with an eye; 12-60 mm tall",
       .build = plate_part,
       .one_solid = true,
       .added_later = true},
      {.name = "loft",
       .description = "lofted body: a section (ellipse, rounded rectangle, egg or polygon, morphing) tapered, "
                      "bulging, flared and twisted along a leaning or bent spine, solid or hollow, standing "
                      "(with a bore, a branch or head, a foot) or lying (with end bosses); 12-80 mm",
       .build = loft_part,
       .one_solid = true,
       .added_later = true},
  };
  return table;
}

}  // namespace flare::am
