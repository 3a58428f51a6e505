#include "am/part_shell.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "am/part_params.h"

namespace flare::am {

using Eigen::AlignedBox3d;
using Eigen::Vector3d;
using nlohmann::json;

namespace {

constexpr double kPi = std::numbers::pi;

Shape with_wall(Shape s, double t) {
  s.min_feature = t;
  return s;
}

// A spherical cap of height h and radius R (h <= R: at most a hemisphere) on the plate, hollow,
// with a vent on top.
Shape dome(Rng& rng, json& p, double S, double t) {
  const double R = S / 2;
  const double h = draw(rng, p, "height", 0.45 * R, R);
  const Vector3d c(0, 0, h - R);
  Shape cap = subtract(sphere(c, R), sphere(c, R - t));
  cap.box = AlignedBox3d(Vector3d(-R, -R, 0), Vector3d(R, R, h));
  const double vent = draw(rng, p, "vent_radius", 0, 0.3 * R);
  if (vent > t) cap = subtract(cap, cylinder(2, Vector3d(0, 0, 0), vent, h - 2 * t, h + 1));
  if (rng.chance(0.5)) {  // a ring under the rim, lifting the dome
    const double ring = draw(rng, p, "ring_height", t, 0.4 * R);
    const double rr = std::sqrt(std::max(0.0, R * R - (R - h) * (R - h)));  // the rim's radius
    cap = translate(cap, Vector3d(0, 0, ring));
    cap = unite(cap, subtract(cylinder(2, Vector3d(0, 0, 0), rr, 0, ring + t),
                              cylinder(2, Vector3d(0, 0, 0), rr - t, -1, ring + 2 * t)));
  }
  return cap;
}

// A cup: a cylinder or a cone frustum with a bottom, open at the top.
Shape cup(Rng& rng, json& p, double S, double t) {
  const double H = draw(rng, p, "height", 0.4 * S, S);
  const double r0 = draw(rng, p, "bottom_radius", 0.2 * S, 0.5 * S);
  const double r1 = draw(rng, p, "top_radius", std::max(0.7 * r0, 2 * t + 1), std::min(1.4 * r0, 0.5 * S));
  const double tb = draw(rng, p, "bottom", t, 2.5 * t);
  auto radius = [&](double z) { return r0 + (r1 - r0) * z / H; };
  Shape outer = frustum(Vector3d(0, 0, 0), Vector3d(0, 0, H), r0, r1);
  Shape inner = frustum(Vector3d(0, 0, tb), Vector3d(0, 0, H + t), radius(tb) - t, radius(H + t) - t);
  return subtract(outer, inner);
}

// A box enclosure: open at the top, or a lid with a vent; a bottom.
Shape enclosure(Rng& rng, json& p, double S, double t) {
  const double L = draw(rng, p, "length", 0.5 * S, S), W = draw(rng, p, "width", 0.3 * S, S);
  const double H = draw(rng, p, "height", 0.3 * S, S);
  const double tb = draw(rng, p, "bottom", t, 2.5 * t);
  const bool lid = rng.chance(0.5);
  p["lid"] = lid;
  Shape outer = box(Vector3d(-L / 2, -W / 2, 0), Vector3d(L / 2, W / 2, H));
  Shape s = subtract(outer, box(Vector3d(-L / 2 + t, -W / 2 + t, tb), Vector3d(L / 2 - t, W / 2 - t, lid ? H - t : H + 1)));
  if (lid) {
    const double vent = draw(rng, p, "vent_radius", t, std::max(t, 0.25 * std::min(L, W)));
    s = subtract(s, cylinder(2, Vector3d(0, 0, 0), vent, H - 2 * t, H + 1));
  }
  return s;
}

// A regular polygon section, turned about z by `twist` from bottom to top, hollow with a bottom.
Shape vase(Rng& rng, json& p, double S, double t) {
  const int n = rng.integer(3, 6);
  p["sides"] = n;
  const double a = draw(rng, p, "apothem", 0.2 * S, 0.45 * S);
  const double H = draw(rng, p, "height", 0.5 * S, S);
  const double twist = draw(rng, p, "twist_deg", 20, 180) * kPi / 180;
  const double tb = draw(rng, p, "bottom", t, 2.5 * t);
  // Sign-exact (make_part needs the sign, not the distance): the section is turned, the wall is
  // measured in it.
  auto polygon = [n](double x, double y) {  // max over the sides of the distance to the side's line
    double d = -1e30;
    for (int k = 0; k < n; ++k) {
      const double ang = 2 * kPi * k / n;
      d = std::max(d, x * std::cos(ang) + y * std::sin(ang));
    }
    return d;
  };
  Shape s;
  s.sdf = [=](const Vector3d& q) {
    const double ang = -twist * std::clamp(q.z() / H, 0.0, 1.0);
    const double x = q.x() * std::cos(ang) - q.y() * std::sin(ang), y = q.x() * std::sin(ang) + q.y() * std::cos(ang);
    const double d = polygon(x, y);
    const double outer = std::max({d - a, -q.z(), q.z() - H});
    const double inner = std::max(d - (a - t), tb - q.z());
    return std::max(outer, -inner);
  };
  const double R = a / std::cos(kPi / n);  // circumradius
  s.box = AlignedBox3d(Vector3d(-R, -R, 0), Vector3d(R, R, H));
  return s;
}

}  // namespace

Shape shell_part(Rng& rng, json& p) {
  static const char* kinds[] = {"dome", "cup", "enclosure", "vase"};
  const int kind = rng.integer(0, 3);
  p["kind"] = kinds[kind];
  const double S = draw(rng, p, "size_mm", 12, 60);
  const double t = draw(rng, p, "wall", std::max(0.8, 0.03 * S), std::max(0.8, 0.08 * S));
  Shape s = kind == 0 ? dome(rng, p, S, t) : kind == 1 ? cup(rng, p, S, t) : kind == 2 ? enclosure(rng, p, S, t)
                                                                                       : vase(rng, p, S, t);
  return with_wall(on_plate(s), t);
}

}  // namespace flare::am
