// Linear arrays of the `pattern` family (am/part_pattern.h): pin and post grids on a base, and fin
// arrays (heat sinks). The point is folded into the nearest pin or fin, so the field costs the
// same for 4 pins as for 150.
#include <algorithm>
#include <cmath>

#include "am/part_pattern_detail.h"

namespace flare::am::pattern {

using Eigen::AlignedBox3d;
using Eigen::Vector3d;

namespace {

// Pins in rows along x: ny rows of nx pins at pitch (px, py) from the first centre (x0, y0);
// staggered, the odd rows are moved by px/2 and hold nx - 1 pins. Width d0 at the foot z0, d1 at
// the top z0 + h, reaching `sink` below the foot. A pin's width is less than both pitches, so the
// nearest row and the nearest pin in it are the only candidates.
struct Pins {
  int nx = 0, ny = 0;
  double px = 0, py = 0, x0 = 0, y0 = 0;
  double d0 = 0, d1 = 0, z0 = 0, h = 0, sink = 0;
  std::string shape;  // round, square (sides along x and y), diamond (corners along x and y)
  bool staggered = false;

  double operator()(const Vector3d& q) const {
    const int j = std::clamp(int(std::lround((q.y() - y0) / py)), 0, ny - 1);
    const bool odd = staggered && (j & 1);
    const double xs = x0 + (odd ? px / 2 : 0);
    const int i = std::clamp(int(std::lround((q.x() - xs) / px)), 0, (odd ? nx - 1 : nx) - 1);
    const double dx = std::abs(q.x() - xs - i * px), dy = std::abs(q.y() - y0 - j * py),
                 z = q.z() - z0;
    const double d = d0 + (d1 - d0) * std::clamp(z / h, 0.0, 1.0);
    const double across = shape == "round"    ? std::hypot(dx, dy) - d / 2
                          : shape == "square" ? std::max(dx, dy) - d / 2
                                              : (dx + dy - d / 2) / std::sqrt(2.0);
    return std::max({across, -sink - z, z - h});
  }
  int count() const { return staggered ? ny * nx - ny / 2 : nx * ny; }
};

// Fins along y over [-len/2, len/2], n of them at `pitch` from the first centre x0, thickness w0
// at the foot z0 and w1 at the top z0 + h; wavy: moved along x by amp sin(2 pi y / wave).
struct Fins {
  int n = 0;
  double pitch = 0, x0 = 0, len = 0;
  double w0 = 0, w1 = 0, z0 = 0, h = 0, sink = 0;
  double amp = 0, wave = 1;

  double operator()(const Vector3d& q) const {
    const double k = 2 * kPi / wave;
    const double x = q.x() - amp * std::sin(k * q.y()), slope = amp * k * std::cos(k * q.y());
    const int i = std::clamp(int(std::lround((x - x0) / pitch)), 0, n - 1);
    const double z = q.z() - z0, w = w0 + (w1 - w0) * std::clamp(z / h, 0.0, 1.0);
    // Thickness normal to a wavy fin is w: across x it is w sqrt(1 + slope^2).
    const double across = std::abs(x - x0 - i * pitch) - 0.5 * w * std::sqrt(1 + slope * slope);
    return std::max({across, std::abs(q.y()) - len / 2, -sink - z, z - h});
  }
};

Shape centred_box(double lx, double ly, double z0, double z1) {
  return box(Vector3d(-lx / 2, -ly / 2, z0), Vector3d(lx / 2, ly / 2, z1));
}

}  // namespace

// Pins or posts on a base plate, rectangular or staggered, optionally under a cover plate (the
// pins bridge the two plates) and between two or four side walls.
Shape pin_grid(Ctx& c) {
  const double turn_z = draw_turn(c), aspect = c.num(0.4, 1);
  const double lx = floor2(c.S / turned_extent(1, aspect, turn_z)), ly = round2(aspect * lx);
  c.p["length"] = lx, c.p["width"] = ly;
  Pins pins;
  pins.shape = c.choose("pin_shape", {{"round", 0.45}, {"square", 0.3}, {"diamond", 0.25}});
  pins.staggered =
      c.choose("arrangement", {{"rectangular", 0.6}, {"staggered", 0.4}}) == "staggered";
  const bool cover = c.chance("cover", 0.35);
  std::string walls = c.choose("walls", {{"none", 0.6}, {"two", 0.25}, {"four", 0.15}});
  if (cover && walls == "four")
    walls = "two", c.p["walls"] = walls;  // a closed box would trap powder
  pins.nx = c.count_of("pins_x", 2, 14, 1.5), pins.ny = c.count_of("rows", 2, 14, 1.5);
  // t small enough for the counts: a pin (a diamond is d/sqrt2 thick) and a gap of t per pitch,
  // and the walls' 2.5 t on the sides that have them.
  // Counts that would need t below S/k_cap are lowered (finer, the base plate alone would take
  // half the node budget).
  const double k_cap = Ctx::k_cap(12 * lx * ly / (c.S * c.S), 2);
  const double nf = pins.shape == "diamond" ? std::sqrt(2.0) : 1;
  const double ex = walls == "four" ? 5 : 0, ey = walls != "none" ? 5 : 0;
  pins.nx = std::max(2, std::min(pins.nx, int((k_cap * lx / c.S - ex) / (nf + 1))));
  pins.ny = std::max(2, std::min(pins.ny, int((k_cap * ly / c.S - ey) / (nf + 1))));
  c.p["pins_x"] = pins.nx, c.p["rows"] = pins.ny;
  const double k = c.S * std::max((pins.nx * (nf + 1) + ex) / lx, (pins.ny * (nf + 1) + ey) / ly);
  const double t = c.thickness(std::max(20.0, k), std::max(50.0, k + 5), k_cap);
  const double tb = c.draw("base_thickness", t, 3 * t);
  const double tw = walls != "none" ? c.draw("wall_thickness", t, 2 * t) : 0;
  // The pins' area, a gap of at least t from the walls: the cells' margins give t/2.
  const double wx = lx - (walls == "four" ? 2 * tw + t : 0),
               wy = ly - (walls != "none" ? 2 * tw + t : 0);
  const double narrowest = nf * t;
  pins.px = wx / pins.nx, pins.py = wy / pins.ny;
  if (std::min(pins.px, pins.py) < narrowest + t - 1e-9) c.infeasible = true;
  pins.x0 = -wx / 2 + pins.px / 2, pins.y0 = -wy / 2 + pins.py / 2;
  pins.d0 = c.draw("pin_size", narrowest, std::max(narrowest, std::min(pins.px, pins.py) - t));
  pins.d1 = c.rng.chance(0.3) ? c.num(std::max(narrowest, 0.4 * pins.d0), pins.d0) : pins.d0;
  c.p["pin_top_size"] = pins.d1;
  c.p["pins"] = pins.count();
  const double tc = cover ? c.draw("cover_thickness", t, 2.5 * t) : 0;
  c.count(lx, ly, tb + tc);
  // Pin height 3-40 mm, within the part's size and the node budget (pins and walls per layer).
  const double equal = 0.5 * (pins.d0 + pins.d1) *
                       (pins.shape == "round"    ? 0.886
                        : pins.shape == "square" ? 1
                                                 : 0.707);
  const double per_layer = pins.count() * c.layer(equal, equal) +
                           (walls == "none" ? 0 : 2 * c.layer(lx, tw)) +
                           (walls == "four" ? 2 * c.layer(ly, tw) : 0);
  const double room = std::max(3.0, 0.85 * c.S - tb - tc);
  const double h_lo = std::min(room, std::max(3.0, 2 * t));
  const double h =
      c.draw("pin_height", h_lo, std::max(h_lo, std::min({40.0, room, c.height_room(per_layer)})));
  pins.z0 = tb, pins.sink = 0.5 * tb, pins.h = h + 0.5 * tc;  // into the cover

  Shape s = unite(centred_box(lx, ly, 0, tb),
                  field(pins, AlignedBox3d(Vector3d(-wx / 2, -wy / 2, 0.5 * tb),
                                           Vector3d(wx / 2, wy / 2, tb + h + 0.5 * tc))));
  c.count(equal, equal, h, pins.count());
  if (cover) s = unite(s, centred_box(lx, ly, tb + h, tb + h + tc));
  if (walls != "none") {
    const double top = cover ? tb + h : c.draw("wall_height", tb + std::max(t, 0.3 * h), tb + h);
    for (double side : {-1.0, 1.0}) {
      s = unite(s, box(Vector3d(-lx / 2, side > 0 ? ly / 2 - tw : -ly / 2, 0),
                       Vector3d(lx / 2, side > 0 ? ly / 2 : -ly / 2 + tw, top)));
      if (walls == "four")
        s = unite(s, box(Vector3d(side > 0 ? lx / 2 - tw : -lx / 2, -ly / 2, 0),
                         Vector3d(side > 0 ? lx / 2 : -lx / 2 + tw, ly / 2, top)));
    }
    c.count(lx, tw, top, 2);
    if (walls == "four") c.count(ly, tw, top, 2);
  }
  return turn(s, turn_z);
}

// Fins on a base (a heat sink): straight or wavy, optionally thicker at the root, slotted across
// or joined by a cross rib; the base may reach beyond the fins' ends, with mounting holes there.
Shape fin_array(Ctx& c) {
  const double turn_z = draw_turn(c), aspect = c.num(0.4, 1);
  const bool long_x = c.rng.chance(0.5);
  const double fx = long_x ? 1 : aspect, fy = long_x ? aspect : 1,
               scale = c.S / turned_extent(fx, fy, turn_z);
  const double across = floor2(fx * scale), along = floor2(fy * scale);
  c.p["across"] = across, c.p["along"] = along;  // across the fins (x), along them (y)
  Fins f;
  f.n = c.count_of("fins", 3, 20, 1.5);
  const bool wavy = c.chance("wavy", 0.3);
  // t small enough for the count (fin and gap per pitch; wavy fins are a third wider across and
  // share 70% of the base); a count that would need t below S/k_cap is lowered (finer, the base
  // alone would take half the node budget). Then the fins' thickness (up to 2x at the root)
  // within the pitch.
  const double k_cap = Ctx::k_cap(12 * across * along / (c.S * c.S), 2);
  const double room = across / (wavy ? 1.35 / 0.7 : 1);  // (w + t) n at most
  f.n = std::max(3, std::min(f.n, int(k_cap * room / (2 * c.S))));
  c.p["fins"] = f.n;
  const double k = 2 * f.n * c.S / room;
  const double t = c.thickness(std::max(20.0, k), std::max(50.0, k + 5), k_cap);
  const double most = std::max(1.0, room / (f.n * t) - 1);  // (w / t) at most
  const double ratio = c.num(1, std::max(1.0, std::min(f.n > 10 ? 1.5 : 2.5, most)));
  const double root = c.rng.chance(0.35) ? c.num(1, std::max(1.0, std::min(2.0, most / ratio))) : 1;
  f.w1 = std::max(t, round2(ratio * t)), f.w0 = std::max(t, round2(root * f.w1));
  c.p["fin_thickness"] = f.w1, c.p["fin_root_thickness"] = f.w0;
  const double tb = c.draw("base_thickness", t, 3 * t);
  const double margin = c.rng.chance(0.4) ? c.num(3 * t, std::max(3 * t, 0.2 * along)) : 0;
  c.p["end_margin"] = margin;
  f.len = along - 2 * margin;
  if (f.len < 4 * t) c.infeasible = true;
  double slope = 0;
  if (wavy) {
    f.wave = c.draw("wave_length", std::max(4 * t, 0.2 * f.len), std::max(4 * t, f.len));
    f.amp =
        c.draw("wave_amplitude", t, std::max(t, std::min(0.9 * f.wave / (2 * kPi), 0.15 * across)));
    slope = 2 * kPi * f.amp / f.wave;
  }
  // The fins share the base's length less the waves' swing; neighbours keep a gap of t normal
  // to them.
  const double span = across - 2 * f.amp;
  f.pitch = span / f.n, f.x0 = -span / 2 + f.pitch / 2;
  if (f.pitch < (f.w0 + t) * std::sqrt(1 + slope * slope) - 1e-9) c.infeasible = true;
  c.count(across, along, tb);
  const double fin_len = f.len * (1 + 0.25 * slope * slope), h_lo = std::max(2 * t, 0.1 * c.S);
  const double h =
      c.draw("fin_height", h_lo,
             std::max(h_lo, std::min(0.85 * c.S - tb,
                                     c.height_room(f.n * c.layer(fin_len, 0.5 * (f.w0 + f.w1))))));
  f.z0 = tb, f.sink = 0.5 * tb, f.h = h;
  Shape s = unite(centred_box(across, along, 0, tb),
                  field(f, AlignedBox3d(Vector3d(-across / 2, -f.len / 2, 0.5 * tb),
                                        Vector3d(across / 2, f.len / 2, tb + h))));
  c.count(fin_len, h, 0.5 * (f.w0 + f.w1), f.n);
  const std::string variant =
      c.choose("variant", {{"plain", 0.4}, {"slotted", 0.3}, {"cross_rib", 0.3}});
  if (variant == "slotted") {
    // Slots across every fin, down to the base or part of the way: rows of shorter fins.
    const int n = c.draw_int("slots", 1, 3);
    const double w = c.draw("slot_width", t, std::max(t, std::min(3 * t, f.len / (n + 1) - t)));
    const double floor = c.rng.chance(0.5) ? tb : c.num(tb + t, std::max(tb + t, tb + 0.7 * h));
    c.p["slot_depth"] = round2(tb + h - floor);
    for (int k = 1; k <= n; ++k) {
      const double y = -f.len / 2 + f.len * k / (n + 1);
      s = subtract(
          s, box(Vector3d(-across, y - w / 2, floor), Vector3d(across, y + w / 2, tb + h + 1)));
    }
  } else if (variant == "cross_rib") {
    const double w = c.draw("rib_thickness", t, 2 * t),
                 hr = c.draw("rib_height", std::max(t, 0.3 * h), std::max(t, h));
    const double y = c.draw("rib_y", -0.3 * f.len, 0.3 * f.len);
    s = unite(s, box(Vector3d(-across / 2, y - w / 2, 0.5 * tb),
                     Vector3d(across / 2, y + w / 2, tb + hr)));
    c.count(across, w, hr);
  }
  if (margin >= 3 * t && c.chance("mounting_holes", 0.6)) {
    const double r = c.draw("hole_radius", 0.5 * t, std::max(0.5 * t, 0.5 * margin - t));
    const double x = across / 2 - margin / 2, y = along / 2 - margin / 2;
    for (double sx : {-1.0, 1.0})
      for (double sy : {-1.0, 1.0})
        s = subtract(s, cylinder(2, Vector3d(sx * x, sy * y, 0), r, -1, tb + 1));
  }
  return turn(s, turn_z);
}

}  // namespace flare::am::pattern
