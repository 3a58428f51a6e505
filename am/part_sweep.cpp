#include "am/part_sweep.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "am/part_params.h"

namespace flare::am {

using Eigen::AlignedBox3d;
using Eigen::Vector3d;
using nlohmann::json;

namespace {

constexpr double kPi = std::numbers::pi;

// A centreline: the distance from a point to it.
using Path = std::function<double(const Vector3d&)>;

double segment(const Vector3d& q, const Vector3d& a, const Vector3d& b) {
  const Vector3d ab = b - a;
  const double t = std::clamp((q - a).dot(ab) / ab.squaredNorm(), 0.0, 1.0);
  return (q - a - t * ab).norm();
}

// The arc of radius R about c from angle 0 (c + R u) to angle a1 (towards v), in the plane of the
// unit vectors u and v; beyond its ends, the distance to the nearer end.
double arc(const Vector3d& q, const Vector3d& c, const Vector3d& u, const Vector3d& v, double R, double a1) {
  const Vector3d w = q - c;
  const double x = w.dot(u), y = w.dot(v);
  const double off = (w - x * u - y * v).norm();
  double a = std::atan2(y, x);
  if (a < -1e-12) a += 2 * kPi;
  if (a <= a1) return std::hypot(std::hypot(x, y) - R, off);
  const Vector3d e0 = c + R * u, e1 = c + R * (std::cos(a1) * u + std::sin(a1) * v);
  return std::min((q - e0).norm(), (q - e1).norm());
}

// A round section of radius r about the path; hollow: a wall of `wall` inside it.
Shape swept(Path path, double r, double wall, const AlignedBox3d& box) {
  Shape s;
  s.sdf = [path = std::move(path), r, wall](const Vector3d& q) {
    const double d = path(q);
    return wall > 0 ? std::max(d - r, (r - wall) - d) : d - r;
  };
  s.box = AlignedBox3d(box.min() - Vector3d::Constant(r), box.max() + Vector3d::Constant(r));
  s.min_feature = wall > 0 ? wall : 2 * r;
  return s;
}

// A foot block centred under x = 0, y = 0: half-width fw in x, half-depth d in y, height h.
Shape box3(double fw, double d, double h) { return box(Vector3d(-fw, -d, 0), Vector3d(fw, d, h)); }

Shape elbow(Rng& rng, json& p, double r, double wall) {
  const double R = draw(rng, p, "bend_radius", std::max(2.5 * r, 5.0), 25);
  const double rise = draw(rng, p, "rise", 2 * r, 30);
  const double bend = draw(rng, p, "bend_deg", 45, 135) * kPi / 180;
  const double run = draw(rng, p, "run", r, 35);
  const Vector3d u(1, 0, 0), v(0, 0, 1), c(-R, 0, rise);
  const Vector3d end = c + R * (std::cos(bend) * u + std::sin(bend) * v);
  const Vector3d dir = -std::sin(bend) * u + std::cos(bend) * v;  // the tangent at the arc's end
  const Vector3d tip = end + run * dir;
  AlignedBox3d box(Vector3d(0, 0, 0));
  box.extend(tip);
  for (int k = 0; k <= 32; ++k) box.extend(c + R * (std::cos(bend * k / 32) * u + std::sin(bend * k / 32) * v));
  Shape pipe = swept(
      [=](const Vector3d& q) {
        return std::min({segment(q, Vector3d(0, 0, 0), Vector3d(0, 0, rise)), arc(q, c, u, v, R, bend),
                         segment(q, end, tip)});
      },
      r, wall, box);
  const double rf = draw(rng, p, "flange_radius", r + 2, r + 6), tf = draw(rng, p, "flange_thickness", 1.5, 3);
  Shape flange = cylinder(2, Vector3d(0, 0, 0), rf, 0, tf);
  if (wall > 0) flange = subtract(flange, cylinder(2, Vector3d(0, 0, 0), r - wall, -1, tf + 1));
  Shape s = unite(pipe, flange);
  s.min_feature = std::min(pipe.min_feature, tf);
  return s;
}

Shape arch(Rng& rng, json& p, double r, double wall) {
  const double R = draw(rng, p, "bend_radius", std::max(2.5 * r, 6.0), 30);
  const double sweep = draw(rng, p, "sweep_deg", 120, 180) * kPi / 180;  // < 180: one foot in the air
  const double a0 = (kPi - sweep) / 2;
  // Centred so that the arc's ends are at the same height; the feet stand on the plate.
  const double zc = -R * std::sin(a0) + r;
  const Vector3d c(0, 0, zc), u(std::cos(a0), 0, std::sin(a0)), v(-std::sin(a0), 0, std::cos(a0));
  AlignedBox3d box(Vector3d(-R, 0, 0), Vector3d(R, 0, zc + R));
  return swept([=](const Vector3d& q) { return arc(q, c, u, v, R, sweep); }, r, wall, box);
}

Shape hook(Rng& rng, json& p, double r) {
  const double R = draw(rng, p, "bend_radius", std::max(2.0 * r, 4.0), 15);
  const double post = draw(rng, p, "post", 10, 40);
  const double tip = draw(rng, p, "tip", 0, 0.9 * post);
  const Vector3d c(R, 0, post), u(-1, 0, 0), v(0, 0, 1);
  AlignedBox3d box(Vector3d(0, 0, 0), Vector3d(2 * R, 0, post + R));
  box.extend(Vector3d(2 * R, 0, post - tip));
  Shape rod = swept(
      [=](const Vector3d& q) {
        return std::min({segment(q, Vector3d(0, 0, 0), Vector3d(0, 0, post)), arc(q, c, u, v, R, kPi),
                         segment(q, Vector3d(2 * R, 0, post), Vector3d(2 * R, 0, post - tip))});
      },
      r, 0, box);
  const double rf = draw(rng, p, "foot_radius", r + 2, r + 8), tf = draw(rng, p, "foot_thickness", 1.5, 4);
  Shape s = unite(rod, cylinder(2, Vector3d(0, 0, 0), rf, 0, tf));
  s.min_feature = std::min(rod.min_feature, tf);
  return s;
}

Shape ring(Rng& rng, json& p, double r, double wall) {
  const double R = draw(rng, p, "bend_radius", std::max(3.0 * r, 8.0), 30);
  const double foot = draw(rng, p, "foot_height", 1.5, 6);
  const double zc = foot + R + r;
  const Vector3d c(0, 0, zc);
  AlignedBox3d box(Vector3d(-R, 0, zc - R), Vector3d(R, 0, zc + R));
  Shape rim = swept(
      [=](const Vector3d& q) {
        const Vector3d w = q - c;
        return std::hypot(std::hypot(w.x(), w.z()) - R, w.y());
      },
      r, wall, box);
  const double fw = draw(rng, p, "foot_width", 0.3 * R, 0.9 * R);
  Shape s = unite(rim, box3(fw, r, foot + r + 0.5 * r));
  double thinnest = std::min(rim.min_feature, foot);
  const int spokes = rng.chance(0.3) ? 0 : rng.integer(3, 6);
  p["spokes"] = spokes;
  if (spokes > 0) {
    const double rs = draw(rng, p, "spoke_radius", std::max(0.5 * r, 0.8), std::max(0.8 * r, 1.0));
    const double phase = draw(rng, p, "spoke_phase_deg", 0, 360 / spokes) * kPi / 180;
    for (int k = 0; k < spokes; ++k) {
      const double a = phase + 2 * kPi * k / spokes;
      s = unite(s, capsule(c, c + (R - 0.5 * r) * Vector3d(std::cos(a), 0, std::sin(a)), rs));
    }
    s = unite(s, cylinder(1, c, 2 * rs, -std::max(r, 2 * rs), std::max(r, 2 * rs)));
    thinnest = std::min(thinnest, 2 * rs);
  }
  s.min_feature = thinnest;
  return s;
}

}  // namespace

Shape sweep_part(Rng& rng, json& p) {
  static const char* kinds[] = {"elbow", "arch", "hook", "ring"};
  const int kind = rng.integer(0, 3);
  p["kind"] = kinds[kind];
  const double r = draw(rng, p, "radius", 1.5, 5);
  const bool hollow = kind != 2 && r >= 2.5 && rng.chance(0.6);
  p["hollow"] = hollow;
  // Walls of a quarter of the radius or more: thinner ones need voxels so fine that most such
  // draws left the node range and were redrawn as solid rods.
  const double wall = hollow ? draw(rng, p, "wall", std::max(0.8, 0.25 * r), 0.45 * r) : 0;
  Shape s = kind == 0 ? elbow(rng, p, r, wall) : kind == 1 ? arch(rng, p, r, wall) : kind == 2 ? hook(rng, p, r)
                                                                                                : ring(rng, p, r, wall);
  return on_plate(s);
}

}  // namespace flare::am
