#include "am/part_plate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <numbers>
#include <utility>
#include <vector>

#include "am/part_params.h"

namespace flare::am {

using Eigen::AlignedBox3d;
using Eigen::Vector2d;
using Eigen::Vector3d;
using nlohmann::json;

namespace {

constexpr double kPi = std::numbers::pi;

// Round holes through a plate, in its (u, v) plane. Only the sign of a shape's function is used
// (am/sdf.h), so a plate is the set where its outline, its thickness and its holes all agree.
struct Holes {
  std::vector<Vector2d> at;
  double r = 0;
  /// Negative inside a hole.
  double operator()(double u, double v) const {
    double d = 1e9;
    for (const Vector2d& c : at) d = std::min(d, std::hypot(u - c.x(), v - c.y()) - r);
    return d;
  }
};

// Up to `n` holes in a column at u = u0 between v = lo and v = hi, of radius r, each kept only
// where a ligament of at least t remains to the outline (half_length(v) is the outline's half
// length at height v) and to the next hole.
Holes column_of_holes(json& p, int n, double u0, double lo, double hi, double r, double t,
                      const std::function<double(double)>& half_length) {
  Holes h;
  h.r = r = round2(r);  // recorded as used
  if (n > 0 && hi - lo >= 2 * r + 2 * t) n = std::min(n, int((hi - lo) / (2 * r + t)));
  for (int k = 0; k < n && hi - lo >= 2 * r + 2 * t; ++k) {
    const double v = lo + (hi - lo) * (k + 0.5) / n;
    if (std::abs(u0) + r + t <= half_length(v)) h.at.emplace_back(u0, v);
  }
  p["holes"] = int(h.at.size());
  if (!h.at.empty()) p["hole_radius"] = r;
  return h;
}

// One plate standing on its edge: a trapezoid of half lengths a0 (bottom) and a1 (top), height H,
// optionally round-topped, bowed across its length and its height, thinning upwards; leaning
// about x, on a foot when it leans.
Shape leaf(Rng& rng, json& p, double H, double t) {
  const double a0 = draw(rng, p, "half_length", 0.2 * H, 0.6 * H);
  const double a1 = draw(rng, p, "top_half_length", std::max(0.4 * a0, 2 * t), 1.3 * a0);
  const bool round_top = H > 3 * a1 && rng.chance(0.35);
  p["round_top"] = round_top;
  const double thin = rng.chance(0.4) ? draw(rng, p, "thinning", 0.1, 0.4) : 0.0;
  // Sagittas of the bow across the length (at the ends) and across the height (at the top).
  const double sag_u = rng.chance(0.4) ? draw(rng, p, "bow_length", -0.25 * a0, 0.25 * a0) : 0.0;
  const double sag_v = rng.chance(0.3) ? draw(rng, p, "bow_height", -0.2 * H, 0.2 * H) : 0.0;
  const double ku = sag_u / (a0 * a0), kv = sag_v / (H * H);
  auto half_length = [=](double v) { return a0 + (a1 - a0) * std::clamp(v / H, 0.0, 1.0); };
  const double top = round_top ? H - a1 : H;
  const Holes holes = column_of_holes(p, rng.integer(0, 4), rng.chance(0.5) ? 0.0 : uniform2(rng, -0.4, 0.4) * a1,
                                      0.1 * H, top, uniform2(rng, 0.08, 0.2) * std::min(2 * a1, top), t,
                                      half_length);
  Shape s;
  s.sdf = [=](const Vector3d& q) {
    const double u = q.x(), v = q.z(), w = q.y() - ku * u * u - kv * v * v;
    double outline = std::max({std::abs(u) - half_length(v), -v, v - top});
    if (round_top) outline = std::min(outline, std::hypot(u, v - top) - a1);
    const double half = 0.5 * t * (1 - thin * std::clamp(v / H, 0.0, 1.0));
    return std::max({outline, std::abs(w) - half, -holes(u, v)});
  };
  const double amax = std::max(a0, a1);
  s.box = AlignedBox3d(Vector3d(-amax, std::min(0.0, sag_u) + std::min(0.0, sag_v) - t, 0),
                       Vector3d(amax, std::max(0.0, sag_u) + std::max(0.0, sag_v) + t, H));
  s.min_feature = t * (1 - thin);
  const double lean = rng.chance(0.5) ? draw(rng, p, "lean_deg", -40, 40) : 0.0;
  const bool foot = std::abs(lean) > 8 || rng.chance(0.5);
  p["foot"] = foot;
  if (lean != 0) s = rotate(s, Vector3d::UnitX(), radians(lean), Vector3d::Zero());
  if (foot) {
    const double fh = draw(rng, p, "foot_height", 1.5, std::max(2.0, 0.15 * H));
    const double fy = draw(rng, p, "foot_half_width", t + 1, std::max(t + 2, 0.3 * H));
    const double m = draw(rng, p, "foot_margin", 0, 0.2 * H);
    const double thinnest = std::min(s.min_feature, fh);
    s = unite(s, box(Vector3d(-a0 - m, -fy, 0), Vector3d(a0 + m, fy, fh)));
    s.min_feature = thinnest;
  }
  return s;
}

// Two leaves on a vertical knuckle (a butt hinge standing on end), open at `opening` degrees.
Shape pair(Rng& rng, json& p, double H, double t) {
  const double rk = draw(rng, p, "knuckle_radius", 0.9 * t + 0.5, 1.6 * t + 1.5);
  const int segments = rng.chance(0.3) ? 1 : rng.integer(2, 5);
  p["segments"] = segments;
  const double gap = segments > 1 ? draw(rng, p, "gap", std::max(t, 0.8), 1.5 * std::max(t, 0.8)) : 0.0;
  // Where a leaf meets the knuckle (within rk + gap of the axis) no hole may cut it off.
  const double joint = rk + gap + t;
  const double L = draw(rng, p, "leaf_length", std::max(0.4 * H, joint + 2 * t), std::max(0.5 * H, 25.0));
  const double opening = draw(rng, p, "opening_deg", 50, 170);
  const bool flush = rng.chance(0.5);  // the leaves' outer faces flush with the knuckle's side
  p["flush"] = flush;
  const double rc = draw(rng, p, "corner_radius", 0, 0.4 * std::min(L - joint, H));
  const int n_holes = rng.integer(0, 3);
  const double hole_r = uniform2(rng, 0.1, 0.22) * std::min(L - joint, H / std::max(n_holes, 1));
  const double hole_u = uniform2(rng, joint + hole_r, L - t - hole_r);
  // Knuckle segment k spans [lo_k, hi_k]; leaf A owns the even ones, leaf B the odd ones.
  std::vector<std::array<double, 2>> span;
  for (int k = 0; k < segments; ++k)
    span.push_back({k * H / segments + (k > 0 ? gap / 2 : 0), (k + 1) * H / segments - (k + 1 < segments ? gap / 2 : 0)});
  // A split knuckle's segments sit on a fused pin, a whole one is its own.
  const double rp = segments > 1 ? draw(rng, p, "pin_radius", std::max(0.5 * t, 0.4 * rk), 0.6 * rk) : rk;
  const double thinnest = segments > 1 ? std::min({t, gap, 2 * rp}) : t;
  Shape s = cylinder(2, Vector3d::Zero(), rp, 0, H);
  for (int k = 0; k < segments; ++k) s = unite(s, cylinder(2, Vector3d::Zero(), rk, span[k][0], span[k][1]));
  for (int side = 0; side < 2; ++side) {
    json& q = p[side == 0 ? "leaf_a" : "leaf_b"];
    const double w0 = flush ? (side == 0 ? 1 : -1) * (rk - t / 2) : 0.0;
    const Holes holes = column_of_holes(q, n_holes, 0.0, 0.15 * H, 0.85 * H, hole_r, t, [=](double) {
      return std::min(hole_u - joint + t, L - hole_u);  // a ligament of t to the joint and the end
    });
    Shape leaf;
    leaf.sdf = [=](const Vector3d& x) {
      const double u = x.x(), v = x.z();
      // A rectangle [0, L] x [0, H], its two outer corners rounded by rc.
      const double du = u - (L - rc), dv = std::max(rc - v, v - (H - rc));
      const double outline = du > 0 && dv > 0 ? std::hypot(du, dv) - rc : std::max({-u, u - L, -v, v - H});
      return std::max({outline, std::abs(x.y() - w0) - t / 2, -holes(u - hole_u, v)});
    };
    leaf.box = AlignedBox3d(Vector3d(0, w0 - t / 2, 0), Vector3d(L, w0 + t / 2, H));
    leaf = rotate(leaf, Vector3d::UnitZ(), radians((side == 0 ? 0.5 : -0.5) * opening), Vector3d::Zero());
    // Cut back round the other leaf's knuckle segments by the gap.
    for (int k = side == 0 ? 1 : 0; k < segments; k += 2)
      leaf = subtract(leaf, cylinder(2, Vector3d::Zero(), rk + gap, span[k][0] - gap, span[k][1] + gap));
    s = unite(s, leaf);
  }
  s.min_feature = thinnest;
  return s;
}

// A twisted, tapered, cambered airfoil on a root block. The section at height z is a chain of
// round cones along the mean line (NACA 4-digit half thickness, at least `te` at the trailing
// edge), twisted about mid-chord.
Shape vane(Rng& rng, json& p, double H, double t) {
  const double c0 = draw(rng, p, "chord", 0.3 * H, 0.7 * H);
  const double c1 = draw(rng, p, "tip_chord", 0.5 * c0, 1.1 * c0);
  const double tau = draw(rng, p, "thickness_ratio", 0.08, 0.2);
  const double camber = draw(rng, p, "camber", 0, 0.08);
  const double a0 = radians(draw(rng, p, "stagger_deg", -30, 30));
  const double twist = radians(draw(rng, p, "twist_deg", -70, 70));
  const double te = 0.5 * t;
  const double hr = draw(rng, p, "root_height", 1.5, std::max(2.0, 0.25 * H));
  const double span = H - hr;
  const double sweep = rng.chance(0.4) ? draw(rng, p, "sweep_mm", -0.3 * span, 0.3 * span) : 0.0;
  constexpr int kSegments = 16;
  auto half_thickness = [=](double f, double c) {
    const double y = 5 * tau * c * (0.2969 * std::sqrt(f) - 0.126 * f - 0.3516 * f * f + 0.2843 * f * f * f - 0.1015 * f * f * f * f);
    return std::max(y, te);
  };
  Shape s;
  s.sdf = [=](const Vector3d& q) {
    const double sp = std::clamp((q.z() - hr) / span, 0.0, 1.0);
    const double c = c0 + (c1 - c0) * sp, a = a0 + twist * sp;
    const Vector2d e(std::cos(a), std::sin(a)), n(-std::sin(a), std::cos(a));
    const Vector2d x(q.x() - sweep * sp, q.y());
    auto mean = [&](double f) { return Vector2d((f - 0.5) * c * e + 4 * camber * c * f * (1 - f) * n); };
    double d = 1e9;
    Vector2d A = mean(0);
    double ra = half_thickness(0, c);
    for (int k = 1; k <= kSegments; ++k) {
      const double f = double(k) / kSegments;
      const Vector2d B = mean(f);
      const double rb = half_thickness(f, c);
      const Vector2d ab = B - A;
      const double h = std::clamp((x - A).dot(ab) / ab.squaredNorm(), 0.0, 1.0);
      d = std::min(d, (x - A - h * ab).norm() - (ra + h * (rb - ra)));
      A = B;
      ra = rb;
    }
    return std::max({d, hr - 0.5 - q.z(), q.z() - H});
  };
  const double reach = 0.6 * std::max(c0, c1) + tau * std::max(c0, c1) + camber * std::max(c0, c1) + te;
  s.box = AlignedBox3d(Vector3d(std::min(0.0, sweep) - reach, -reach, hr - 0.5),
                       Vector3d(std::max(0.0, sweep) + reach, reach, H));
  s.min_feature = 2 * te;
  // The root covers the base section however it is staggered.
  const double m = draw(rng, p, "root_margin", 1, std::max(1.5, 0.15 * H));
  const double rx = 0.5 * c0 * std::abs(std::cos(a0)) + tau * c0 + m;
  const double ry = 0.5 * c0 * std::abs(std::sin(a0)) + tau * c0 + m;
  Shape root = box(Vector3d(-rx, -ry, 0), Vector3d(rx, ry, hr));
  if (rng.chance(0.5)) {  // a platform overhanging the root
    const double tp = draw(rng, p, "platform_thickness", std::max(t, 1.0), std::max(1.5 * t, 2.0));
    const double g = draw(rng, p, "platform_overhang", 1, std::max(2.0, 0.2 * H));
    root = unite(root, box(Vector3d(-rx - g, -ry - g, hr - tp), Vector3d(rx + g, ry + g, hr)));
  }
  const double thinnest = s.min_feature;
  s = unite(s, root);
  if (rng.chance(0.3)) {  // a tip shroud: a plate on top of the airfoil
    const double tp = draw(rng, p, "shroud_thickness", std::max(t, 1.0), std::max(1.5 * t, 2.0));
    const double sx = 0.5 * c1 + tau * c1 + 1, sy = 0.5 * c1 * std::abs(std::sin(a0 + twist)) + tau * c1 + 1;
    s = unite(s, box(Vector3d(sweep - sx, -sy, H - tp), Vector3d(sweep + sx, sy, H)));
  }
  s.min_feature = thinnest;
  return s;
}

// A flat lever standing on its foot: a tapered shank, straight or bowed in its plane (x-z),
// optionally I-section, up to an eye with a bore; the eye optionally offset sideways (a crank).
Shape link(Rng& rng, json& p, double H, double t) {
  const double T = draw(rng, p, "body_thickness", t, 3 * t);
  const double re = draw(rng, p, "eye_radius", std::max(0.12 * H, 2 * t + 1), std::max(0.25 * H, 2 * t + 2));
  const double rb = draw(rng, p, "bore_radius", 0.35 * re, re - t);
  const double xe = rng.chance(0.4) ? draw(rng, p, "offset", -0.4 * H, 0.4 * H) : 0.0;
  const double bow = rng.chance(0.5) ? draw(rng, p, "bow", -0.2 * H, 0.2 * H) : 0.0;
  const double fh = draw(rng, p, "foot_height", std::max(1.5, 0.06 * H), std::max(2.0, 0.2 * H));
  const double wb = draw(rng, p, "shank_half_width", std::max(t + 0.5, 0.06 * H), std::max(t + 1.0, 0.2 * H));
  const double wt = draw(rng, p, "shank_top_half_width", std::max(t + 0.5, 0.5 * wb), std::max(t + 1.0, std::min(re, 1.2 * wb)));
  const double fw = draw(rng, p, "foot_half_length", wb + 1, wb + std::max(2.0, 0.3 * H));
  const double fy = draw(rng, p, "foot_half_width", T / 2, T / 2 + std::max(1.0, 0.15 * H));
  const double ze = H - re;
  // I-section: pockets in both faces leave a web of t and flanges of at least t.
  const bool pockets = T >= 2 * t && wb >= 2.5 * t && rng.chance(0.6);
  p["pockets"] = pockets;
  const double flange = pockets ? draw(rng, p, "flange", t, std::max(1.2 * t, 0.4 * std::min(wb, wt))) : 0.0;
  auto centre = [=](double s) { return xe * s + bow * std::sin(kPi * s); };
  Shape s;
  s.sdf = [=](const Vector3d& q) {
    const double x = q.x(), z = q.z();
    const double sp = std::clamp((z - fh) / (ze - fh), 0.0, 1.0);
    const double w = wb + (wt - wb) * sp, dx = std::abs(x - centre(sp));
    const double shank = std::max({dx - w, fh / 2 - z, z - ze});
    const double from_eye = std::hypot(x - xe, z - ze);
    double d = std::max(std::min(shank, from_eye - re), std::abs(q.y()) - T / 2);
    if (pockets) {
      const double pocket = std::max({dx - (w - flange), fh + 2 * flange - z, z - (ze - re - flange),
                                      t / 2 - std::abs(q.y())});
      d = std::max(d, -pocket);
    }
    return std::max(d, rb - from_eye);  // the bore
  };
  const double reach = std::abs(bow) + std::max({wb, wt, re});
  s.box = AlignedBox3d(Vector3d(std::min(0.0, xe) - reach, -T / 2, 0), Vector3d(std::max(0.0, xe) + reach, T / 2, H));
  s = unite(s, box(Vector3d(-fw, -fy, 0), Vector3d(fw, fy, fh)));
  s.min_feature = std::min({t, fh, re - rb});
  return s;
}

}  // namespace

Shape plate_part(Rng& rng, json& p) {
  using Kind = Shape (*)(Rng&, json&, double, double);
  static constexpr std::array<std::pair<const char*, Kind>, 4> kinds = {
      {{"leaf", leaf}, {"pair", pair}, {"vane", vane}, {"link", link}}};
  const auto& [name, build] = kinds[std::size_t(rng.integer(0, 3))];
  p["kind"] = name;
  const double H = round2(rng.log_uniform(12, 60));
  p["height"] = H;
  const double t = draw(rng, p, "thickness", std::max(1.0, 0.035 * H), std::clamp(0.1 * H, 1.2, 3.5));
  return on_plate(build(rng, p, H, t));
}

}  // namespace flare::am
