// Internals of the `pattern` family (am/part_pattern.h), shared by its layout builders:
// part_pattern.cpp (radial arrays and the family's entry), part_pattern_linear.cpp (pin grids and
// fin arrays), part_pattern_helix.cpp (coils and threads), part_pattern_circular.cpp (flanges,
// toothed discs, castellated tubes).
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>
#include <utility>

#include "am/part_params.h"
#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am::pattern {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180;

/// `a` moved into one period about 0: [-period/2, period/2].
inline double wrap(double a, double period) { return a - period * std::round(a / period); }

/// What a layout builder draws from and records into.
struct Ctx {
  Rng& rng;
  nlohmann::json& p;
  /// The choices (chance, choose) and headline counts (count) of earlier draws of this part,
  /// reused by pattern_part's redraws for a while: a redraw then changes only the sizes around
  /// them, so heavy variants (many blades, a cover plate) are not simply traded for light ones.
  nlohmann::json& kept;
  double S = 0;  ///< overall size: the design's largest dimension is at most S (mm)
  double t = 0;  ///< minimum thickness of every wall, blade, pin, wire and gap (mm)
  /// Rough node count of the voxel mesh at two voxels across t (see count()): a design over
  /// kBudget is redrawn by pattern_part before make_part voxelises it. make_part's default range
  /// goes to 50,000 nodes and datasets use 5,000-30,000; the estimate is within about 25%.
  static constexpr double kBudget = 22000;
  double nodes = 0;
  /// Set when the drawn sizes leave no room for the pattern (a redraw follows).
  bool infeasible = false;
  /// The last redraws take the lowest counts, the lightest patterns: a part whose heavier
  /// draws all left the budget still gets one (rare: tiny parts with many pins).
  bool lightest = false;

  Ctx(Rng& r, nlohmann::json& params, nlohmann::json& keep) : rng(r), p(params), kept(keep) {}
  /// Uniform in [lo, hi), rounded to 0.01; lo when the range is empty.
  double num(double lo, double hi) { return uniform2(rng, lo, hi); }
  /// num(lo, hi) recorded as p[key].
  double draw(const char* key, double lo, double hi) {
    const double v = num(lo, hi);
    p[key] = v;
    return v;
  }
  /// Uniform integer in [lo, hi] (lo when hi < lo), recorded as p[key].
  int draw_int(const char* key, int lo, int hi) {
    const int v = hi <= lo ? lo : rng.integer(lo, hi);
    p[key] = v;
    return v;
  }
  /// A count that names the pattern, lo + floor((hi - lo + 1) u^power) (power > 1 favours the
  /// low counts; lo when `lightest`), kept over redraws, recorded as p[key].
  int count_of(const char* key, int lo, int hi, double power) {
    if (!kept.contains(key))
      kept[key] =
          lightest ? lo : std::min(hi, lo + int((hi - lo + 1) * std::pow(rng.uniform(), power)));
    p[key] = kept[key];
    return kept[key].get<int>();
  }
  /// True with probability `prob`, kept over redraws, recorded as p[key].
  bool chance(const char* key, double prob) {
    if (!kept.contains(key)) kept[key] = rng.chance(prob);
    p[key] = kept[key];
    return kept[key].get<bool>();
  }
  /// One of the names by weight (the weights need not sum to 1), kept over redraws, recorded as
  /// p[key].
  std::string choose(const char* key,
                     std::initializer_list<std::pair<const char*, double>> options) {
    if (!kept.contains(key)) {
      double total = 0;
      for (const auto& o : options) total += o.second;
      double u = rng.uniform() * total;
      const char* pick = options.begin()->first;
      for (const auto& o : options) {
        pick = o.first;
        if ((u -= o.second) < 0) break;
      }
      kept[key] = pick;
    }
    p[key] = kept[key];
    return kept[key].get<std::string>();
  }
  /// The minimum thickness for a design of size S: S/k for k drawn in [k_lo, k_hi] (both at most
  /// k_cap), at least 0.3 mm (about the thinnest wall a powder bed prints), recorded as
  /// "min_thickness".
  double thickness(double k_lo, double k_hi, double k_cap = 1e9) {
    k_hi = std::min(k_hi, k_cap), k_lo = std::min(k_lo, k_hi);
    t = std::max(0.3, round2(S / rng.uniform(k_lo, k_hi)));
    p["min_thickness"] = t;
    return t;
  }
  /// The largest k (t = S/k) at which a bulky part of the design (a disc, a base plate, a solid
  /// core) takes at most half the node budget, its nodes `bulk` k^power: finer, the rest of the
  /// design cannot fit, and every redraw would be over the budget.
  static double k_cap(double bulk, double power) {
    return std::pow(0.5 * kBudget / bulk, 1 / power);
  }
  /// Adds the nodes of a slab a x b x c (mm) at a voxel of t/2 to the estimate.
  void count(double a, double b, double c, double copies = 1) {
    const double h = t / 2;
    nodes += copies * (a / h + 1) * (b / h + 1) * (c / h + 1);
  }
  /// The most height that `layer` nodes a voxel layer (at t/2) can take within what is left of
  /// the budget: heights drawn up to it keep a design with many pins or fins in the budget.
  double height_room(double layer) const {
    const double h = t / 2;
    return std::max(0.0, ((0.95 * kBudget - nodes) / std::max(layer, 1.0) - 1) * h);
  }
  /// Nodes of one voxel layer of an a x b slab, and of a disc or annulus.
  double layer(double a, double b) const { return (2 * a / t + 1) * (2 * b / t + 1); }
  double disc_layer(double r_out, double r_in) const {
    const double h = t / 2;
    return kPi * (r_out * r_out - r_in * r_in) / (h * h) + kPi * (r_out + r_in) / h + 1;
  }
  /// The nodes of a disc or annulus of height c: (area / h^2 + perimeter / 2h + 1) a layer, as
  /// for a slab.
  void count_disc(double r_out, double r_in, double c, double copies = 1) {
    nodes += copies * disc_layer(r_out, r_in) * (2 * c / t + 1);
  }
};

/// A shape from a sign-correct field and the box that holds its solid.
inline Shape field(Sdf f, const Eigen::AlignedBox3d& box) {
  Shape s;
  s.sdf = std::move(f);
  s.box = box;
  return s;
}

/// Box of a vertical cylinder about the z axis.
inline Eigen::AlignedBox3d round_box(double r, double z0, double z1) {
  return {Eigen::Vector3d(-r, -r, z0), Eigen::Vector3d(r, r, z1)};
}

/// A ring about the z axis (a disc when r_in is 0) from z0 to z1.
inline Shape annulus(double r_out, double r_in, double z0, double z1) {
  Shape s = cylinder(2, Eigen::Vector3d::Zero(), r_out, z0, z1);
  return r_in > 0 ? subtract(s, cylinder(2, Eigen::Vector3d::Zero(), r_in, z0 - 1, z1 + 1)) : s;
}

/// n copies of `element` (built as the copy at angle 0) at angles phase + 2 pi k / n about the z
/// axis: the point is turned into the nearest copy's sector, so one copy is evaluated; exact
/// while every copy stays inside its sector.
inline Shape ring_of(const Shape& element, int n, double phase) {
  double reach = 0;
  for (int corner = 0; corner < 8; ++corner) {
    const Eigen::Vector3d v = element.box.corner(Eigen::AlignedBox3d::CornerType(corner));
    reach = std::max(reach, std::hypot(v.x(), v.y()));
  }
  Shape s = field(
      [f = element.sdf, n, phase](const Eigen::Vector3d& q) {
        const double a = wrap(std::atan2(q.y(), q.x()) - phase, 2 * kPi / n),
                     r = std::hypot(q.x(), q.y());
        return f(Eigen::Vector3d(r * std::cos(a), r * std::sin(a), q.z()));
      },
      round_box(reach, element.box.min().z(), element.box.max().z()));
  s.min_feature = element.min_feature;
  return s;
}

/// A bolt circle: n holes of radius r on the circle rc, the first at angle `phase`, from below the
/// plate to z_top.
inline Shape bolt_circle(int n, double rc, double r, double phase, double z_top) {
  return ring_of(cylinder(2, Eigen::Vector3d(rc, 0, 0), r, -1, z_top), n, phase);
}

/// Half of the parts are turned about z by 0-360 degrees (recorded as rotation_z_deg; 0 for the
/// others), as in csg: the layouts that are not round take every orientation on the plate. In
/// radians; drawn before the sizes, which turned_extent fits to S.
inline double draw_turn(Ctx& c) {
  const double a = c.rng.chance(0.5) ? 0 : c.num(0, 360);
  c.p["rotation_z_deg"] = a;
  return a * kDeg;
}

/// The larger axis-aligned extent of an lx x ly footprint turned by `a` about z.
inline double turned_extent(double lx, double ly, double a) {
  const double co = std::abs(std::cos(a)), si = std::abs(std::sin(a));
  return std::max(lx * co + ly * si, lx * si + ly * co);
}

/// Rounds down to 0.01: a length fitted to S stays within it.
inline double floor2(double v) { return std::floor(v * 100) / 100; }

inline Shape turn(const Shape& s, double a) {
  return a == 0 ? s : rotate(s, Eigen::Vector3d::UnitZ(), a, Eigen::Vector3d::Zero());
}

// The kinds, by layout: each draws its sizes, records them and returns the design standing on
// z = 0 with its largest dimension (axis-aligned, after its turn) at most S.
Shape impeller(Ctx& c);     // radial (part_pattern.cpp)
Shape wheel(Ctx& c);        // radial
Shape star(Ctx& c);         // radial
Shape pin_grid(Ctx& c);     // grid (part_pattern_linear.cpp)
Shape fin_array(Ctx& c);    // fins
Shape coil(Ctx& c);         // helix (part_pattern_helix.cpp)
Shape thread(Ctx& c);       // helix
Shape flange(Ctx& c);       // circular (part_pattern_circular.cpp)
Shape toothed(Ctx& c);      // circular
Shape castellated(Ctx& c);  // circular

}  // namespace flare::am::pattern
