#include "am/part_loft.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "am/part_params.h"

namespace flare::am {

using Eigen::AlignedBox3d;
using Eigen::Vector2d;
using Eigen::Vector3d;
using nlohmann::json;

namespace {

constexpr double kPi = std::numbers::pi;
constexpr int kSamples = 64;  // along the spine, for the box and the steepest slope

// A section in its own coordinates: u along the long semi-axis a, v along b <= a. Each function
// is negative inside and changes by at most 1 per mm, so the set where it lies in [-w, 0] is a
// wall at least w thick, and a morph between two kinds (their weighted sum) is one too.
struct Section {
  enum Kind { ellipse, superellipse, egg, polygon };
  static constexpr std::array<const char*, 4> kNames = {"ellipse", "superellipse", "egg", "polygon"};
  Kind kind = ellipse;
  double exponent = 2;  ///< superellipse: 2.5 (rounded) .. 6 (nearly a rectangle)
  double back = 1;      ///< egg: the back half's semi-axis over a
  int sides = 6;        ///< polygon

  double operator()(double u, double v, double a, double b) const {
    switch (kind) {
      case superellipse:
        return (std::pow(std::pow(std::abs(u / a), exponent) + std::pow(std::abs(v / b), exponent), 1 / exponent) - 1) * b;
      case egg: {
        const double au = u < 0 ? back * a : a;
        return (std::hypot(u / au, v / b) - 1) * std::min(b, back * a);
      }
      case polygon: {  // regular, apothem b, stretched to a along u, corners rounded
        const double x = u * b / a;
        double d = -1e9;
        for (int k = 0; k < sides; ++k) {
          const double angle = 2 * kPi * k / sides;
          d = std::max(d, x * std::cos(angle) + v * std::sin(angle) - b);
        }
        return std::max(d, std::hypot(x, v) - 0.92 * b / std::cos(kPi / sides));
      }
      case ellipse:
        break;
    }
    return (std::hypot(u / a, v / b) - 1) * b;
  }
  /// Radius of a circle about the centre that holds the section.
  double reach(double a, double b) const {
    return kind == polygon ? 0.92 * a / std::cos(kPi / sides) : std::hypot(a, b);
  }

  static Section draw(Rng& rng, json& p) {
    Section s;
    s.kind = Kind(rng.integer(0, 3));
    p["kind"] = kNames[s.kind];
    if (s.kind == superellipse) s.exponent = ::flare::am::draw(rng, p, "exponent", 2.5, 6);
    if (s.kind == egg) s.back = ::flare::am::draw(rng, p, "back", 0.45, 0.9);
    if (s.kind == polygon) s.sides = draw_int(rng, p, "sides", 3, 8);
    return s;
  }
};

// How the section's size varies along the spine (s = 0 at the start, 1 at the end): a taper, a
// bulge and a flare at the start, never below `floor` (a wall of t must fit).
struct Profile {
  double taper = 0, bulge = 0, flare = 0, floor = 0.3;
  double raw(double s) const { return 1 + taper * s + bulge * std::sin(kPi * s) + flare * std::pow(1 - s, 4); }
  double operator()(double s) const { return std::max(raw(s), floor); }
  double slope(double s) const {  // d/ds, where not at the floor
    if (raw(s) <= floor) return 0;
    return taper + bulge * kPi * std::cos(kPi * s) - 4 * flare * std::pow(1 - s, 3);
  }
  double min_raw() const {
    double m = 1e9;
    for (int i = 0; i <= kSamples; ++i) m = std::min(m, raw(double(i) / kSamples));
    return m;
  }
  static Profile draw(Rng& rng, json& p, bool flare) {
    Profile f;
    if (rng.chance(0.7)) f.taper = ::flare::am::draw(rng, p, "taper", -0.6, 0.5);
    if (rng.chance(0.35)) f.bulge = ::flare::am::draw(rng, p, "bulge", -0.25, 0.35);
    if (flare && rng.chance(0.3)) f.flare = ::flare::am::draw(rng, p, "flare", 0.15, 0.5);
    return f;
  }
};

// The bottom section morphing into the top one (smoothstep in s) when they differ.
struct Morph {
  Section bottom, top;
  bool morphs = false;
  double operator()(double s, double u, double v, double a, double b) const {
    if (!morphs) return bottom(u, v, a, b);
    const double w = s * s * (3 - 2 * s);
    return (1 - w) * bottom(u, v, a, b) + w * top(u, v, a, b);
  }
  double reach(double a, double b) const { return std::max(bottom.reach(a, b), top.reach(a, b)); }
  static Morph draw(Rng& rng, json& p) {
    Morph m;
    m.bottom = Section::draw(rng, p["section_bottom"]);
    m.morphs = rng.chance(0.4);
    m.top = m.morphs ? Section::draw(rng, p["section_top"]) : m.bottom;
    return m;
  }
};

// Round holes across a body at heights (or positions) spread over [lo, hi], each of radius r at
// most `room(position)` (the ligament of t left beside it) and leaving t between holes.
std::vector<std::array<double, 2>> spread_holes(Rng& rng, json& p, double lo, double hi, double t,
                                                const auto& room) {
  std::vector<std::array<double, 2>> holes;  // {position, radius}
  const int n = rng.chance(0.5) ? rng.integer(1, 3) : 0;
  if (n == 0 || hi <= lo) return holes;
  const double f = uniform2(rng, 0.4, 0.9);  // of the room
  for (int k = 0; k < n; ++k) {
    const double at = lo + (hi - lo) * (k + 0.5) / n;
    const double r = round2(std::min(f * room(at), 0.5 * ((hi - lo) / n - t)));
    if (r >= t) holes.push_back({at, r});  // two voxels across at least, so the hole stays open
  }
  p["holes"] = int(holes.size());
  return holes;
}

// A body rising from the plate: section (u, v) in the horizontal slice at height z = s H, centred
// on the spine, turned by orientation + twist s.
Shape standing(Rng& rng, json& p, double H, double t) {
  const Morph sec = Morph::draw(rng, p);
  const double b0 = draw(rng, p, "semi_minor", std::max(t, 0.05 * H), std::max(t + 0.5, 0.2 * H));
  const double a0 = draw(rng, p, "semi_major", b0, std::max(b0, std::min(2.5 * b0, 0.4 * H)));
  Profile prof = Profile::draw(rng, p, true);
  const double theta0 = radians(draw(rng, p, "orientation_deg", 0, 180));
  // The spine leans and bends in one vertical plane; its slope stays below 0.7 (35 degrees).
  const double azimuth = radians(draw(rng, p, "azimuth_deg", 0, 360));
  const double lean = rng.chance(0.5) ? draw(rng, p, "lean", -0.5, 0.5) : 0.0;
  double bend = rng.chance(0.4) ? draw(rng, p, "bend", -0.4, 0.4) : 0.0;
  if (std::abs(lean) + 2 * std::abs(bend) > 0.7) p["bend"] = bend = round2(std::copysign((0.7 - std::abs(lean)) / 2, bend));
  // A twist that moves the section's edge by at most half its height: a slope of 27 degrees.
  const bool round = sec.bottom.kind == Section::ellipse && sec.top.kind == Section::ellipse && a0 == b0;
  double tw = 0;
  if (!round && rng.chance(0.4)) {
    const double most = std::min(150.0, 90 / kPi * H / sec.reach(a0, b0));
    tw = radians(draw(rng, p, "twist_deg", -most, most));
  }
  const bool hollow = rng.chance(0.35);
  p["hollow"] = hollow;
  const double bmin = b0 * prof.min_raw();
  // Walls thinner than ~4% of the height would need more nodes than a dataset's range allows.
  const double w = hollow ? draw(rng, p, "wall", std::max(t, 0.04 * H), std::max({t, 0.04 * H, 0.45 * bmin})) : 0.0;
  prof.floor = std::max(0.3, (w + t) / b0);
  const double floor_z = hollow ? draw(rng, p, "floor", w, std::max(w + 0.5, 0.15 * H)) : 0.0;
  auto centre = [=](double s) -> Vector2d { return Vector2d(std::cos(azimuth), std::sin(azimuth)) * H * (lean * s + bend * s * s); };
  auto local = [=](const Vector3d& q, double s) {  // (u, v) of q in the section at s
    const Vector2d d = Vector2d(q.x(), q.y()) - centre(s);
    const double a = theta0 + tw * s, c = std::cos(a), n = std::sin(a);
    return Vector2d(c * d.x() + n * d.y(), -n * d.x() + c * d.y());
  };
  // A blind bore along the spine from the top (solid bodies).
  const double room = bmin - t;
  const bool bore = !hollow && 0.6 * room >= t && rng.chance(0.3);
  const double rb = bore ? draw(rng, p, "bore_radius", std::max(t, 0.3 * room), 0.6 * room) : 0.0;
  const double bore_from = bore ? H - draw(rng, p, "bore_depth", 0.3 * H, 0.85 * H) : H;
  // Holes across the body, at an azimuth; through both walls of a hollow one (windows).
  const double hole_dir = radians(uniform2(rng, 0, 180));
  const double lo = std::max(0.1 * H, floor_z + t), hi = 0.9 * H;
  const auto holes = spread_holes(rng, p, lo, hi, t, [&](double z) { return b0 * prof(z / H) - t; });
  const Vector2d across(-std::sin(hole_dir), std::cos(hole_dir));  // horizontal, normal to the holes
  Shape body;
  body.sdf = [=](const Vector3d& q) {
    const double s = std::clamp(q.z() / H, 0.0, 1.0), f = prof(s);
    const Vector2d uv = local(q, s);
    const double d0 = sec(s, uv.x(), uv.y(), a0 * f, b0 * f);
    double d = std::max({d0, -q.z(), q.z() - H});
    if (hollow) d = std::max(d, -std::max(d0 + w, floor_z - q.z()));
    if (bore) d = std::max(d, -std::max(uv.norm() - rb, bore_from - q.z()));
    for (const auto& [z, r] : holes) {
      const Vector2d x = Vector2d(q.x(), q.y()) - centre(z / H);
      d = std::max(d, r - std::hypot(x.dot(across), q.z() - z));
    }
    return d;
  };
  // The box; and the thinnest wall or section as the voxels see it: its width in the horizontal
  // slice foreshortened by the surface's slope from the vertical there (lean, taper, twist).
  double thin = 1e9, steepest = 0;
  body.box = AlignedBox3d(Vector3d(0, 0, 0), Vector3d(0, 0, H));
  for (int i = 0; i <= kSamples; ++i) {
    const double s = double(i) / kSamples, f = prof(s), R = 1.02 * sec.reach(a0 * f, b0 * f);
    const Vector2d c = centre(s);
    body.box.extend(Vector3d(c.x() - R, c.y() - R, 0));
    body.box.extend(Vector3d(c.x() + R, c.y() + R, H));
    const double slope = std::abs(lean + 2 * bend * s) + a0 * std::abs(prof.slope(s)) / H + std::abs(tw) * a0 * f / H;
    steepest = std::max(steepest, slope);
    thin = std::min(thin, (hollow ? w : 2 * b0 * f) / std::hypot(1.0, slope));
  }
  // Holes and the bore are at least t across, wherever they are.
  body.min_feature = holes.empty() && !bore ? thin : std::min(thin, t / std::hypot(1.0, steepest));
  double thinnest = body.min_feature;
  Shape s = body;
  const double a1 = a0 * prof(1), b1 = b0 * prof(1);
  // At the top, a branch (a neck rising at 0-75 degrees) or a head; not over a bore or a shell.
  if (!hollow && !bore && rng.chance(0.45)) {
    json& q = p["branch"];
    const double zb = draw(rng, q, "height", 0.6 * H, 0.95 * H);
    const double elev = radians(draw(rng, q, "elevation_deg", 0, 75));
    const double az = radians(draw(rng, q, "azimuth_deg", 0, 360));
    const double len = draw(rng, q, "length", 0.25 * H, 0.6 * H);
    const double bz = b0 * prof(zb / H);
    const double r0 = draw(rng, q, "radius", std::max(t, 0.4 * bz), std::max(t, 0.9 * bz));
    const double r1 = draw(rng, q, "end_radius", std::max(0.5 * t, 0.5 * r0), r0);
    const Vector2d c = centre(zb / H);
    const Vector3d from(c.x(), c.y(), zb);
    const Vector3d dir(std::cos(elev) * std::cos(az), std::cos(elev) * std::sin(az), std::sin(elev));
    const Vector3d to = from + len * dir;
    s = unite(s, frustum(from, to, r0, r1));
    thinnest = std::min(thinnest, 2 * r1);
    static constexpr std::array<const char*, 3> kEnds = {"flat", "cone", "ball"};
    const int end = rng.integer(0, 2);
    q["end"] = kEnds[std::size_t(end)];
    if (end == 1) {  // a trunnion cone
      const double lc = draw(rng, q, "cone_length", r1, 3 * r1);
      s = unite(s, frustum(to, to + lc * dir, r1, std::max(0.5 * t, 0.6 * r1)));
      thinnest = std::min(thinnest, t);
    } else if (end == 2) {
      s = unite(s, sphere(to, draw(rng, q, "ball_radius", 1.1 * r1, 1.8 * r1)));
    }
  } else if (!hollow && !bore && rng.chance(0.3)) {
    const Vector2d c = centre(1);
    if (rng.chance(0.5)) {
      p["head"] = "ball";
      s = unite(s, sphere(Vector3d(c.x(), c.y(), H), draw(rng, p, "head_radius", 0.9 * a1, 1.4 * a1)));
    } else {
      p["head"] = "cap";
      const double th = draw(rng, p, "cap_thickness", t, std::max(t, 0.12 * H));
      const double r = std::max(1.1 * sec.reach(a1, b1), a1 + t);
      const double rc = draw(rng, p, "cap_radius", r, 1.5 * r);
      s = unite(s, cylinder(2, Vector3d(c.x(), c.y(), 0), rc, H - th, H));
      thinnest = std::min(thinnest, th);
    }
  }
  // A foot: a disc or a square plate under the body, with bolt holes outside it.
  if (rng.chance(0.5)) {
    json& q = p["foot"];
    const bool disc = rng.chance(0.5);
    q["shape"] = disc ? "disc" : "square";
    // A foot thin for its width would take most of the part's nodes.
    const double R0 = sec.reach(a0 * prof(0), b0 * prof(0));
    const double m = draw(rng, q, "margin", std::max(1.5, t), std::max({2.0, t, 0.5 * R0}));
    const double fh = draw(rng, q, "height", std::max({1.5, t, 0.06 * (R0 + m)}), std::max({2.0, t, 0.12 * H, 0.1 * (R0 + m)}));
    const double R = R0 + std::abs(lean) * fh;
    Shape foot = disc ? cylinder(2, Vector3d::Zero(), R + m, 0, fh) : box(Vector3d(-R - m, -R - m, 0), Vector3d(R + m, R + m, fh));
    const double rh = round2(0.5 * m - t);
    const bool bolts = rh >= 0.5 * t && rng.chance(0.6);
    if (bolts) {
      const int n = disc ? rng.integer(3, 6) : 4;
      q["bolt_holes"] = n;
      q["bolt_radius"] = rh;
      for (int k = 0; k < n; ++k) {
        const double angle = disc ? 2 * kPi * k / n : kPi / 4 + kPi / 2 * k;
        const Vector3d at = (R + 0.5 * m) * Vector3d(std::cos(angle), std::sin(angle), 0);
        foot = subtract(foot, cylinder(2, at, rh, -1, fh + 1));
      }
    }
    s = unite(s, foot);
    // The bolt holes (at least t across) and the ligaments of t beside them must be resolved too.
    thinnest = std::min({thinnest, fh, bolts ? t : fh});
  }
  s.min_feature = thinnest;
  return s;
}

// A body lying along x on the plate: section (u, v) = (y - bend, z - centre height) in the slice
// x = (s - 1/2) L, sunk into the plate by a fraction of its height (the flat it rests on).
Shape lying(Rng& rng, json& p, double L, double t) {
  const Morph sec = Morph::draw(rng, p);
  const double a0 = draw(rng, p, "semi_major", std::max(t, 0.06 * L), std::max(t + 0.5, 0.18 * L));
  const double b0 = draw(rng, p, "semi_minor", std::max(t, 0.4 * a0), a0);
  Profile prof = Profile::draw(rng, p, false);
  const double bend = rng.chance(0.6) ? draw(rng, p, "bend", -0.3, 0.3) : 0.0;
  const double wave = rng.chance(0.3) ? draw(rng, p, "wave", -0.12, 0.12) : 0.0;
  const double sink = draw(rng, p, "sink", 0.15, 0.5);
  const bool hollow = rng.chance(0.35);
  p["hollow"] = hollow;
  const double w = hollow ? draw(rng, p, "wall", t, std::max(t, 0.45 * b0 * prof.min_raw())) : 0.0;
  prof.floor = std::max(0.3, (w + t) / b0);
  auto y_of = [=](double s) { return L * (4 * bend * s * (1 - s) + wave * std::sin(2 * kPi * s)); };
  auto y_slope = [=](double s) { return 4 * bend * (1 - 2 * s) + 2 * kPi * wave * std::cos(2 * kPi * s); };
  auto z_of = [=](double s) { return b0 * prof(s) * (1 - sink); };
  // Vertical holes through the body (windows top and bottom in a tube).
  const auto holes = spread_holes(rng, p, -0.4 * L, 0.4 * L, t, [&](double x) { return a0 * prof(x / L + 0.5) - t; });
  Shape body;
  body.sdf = [=](const Vector3d& q) {
    const double s = std::clamp(q.x() / L + 0.5, 0.0, 1.0), f = prof(s);
    const double u = q.y() - y_of(s), v = q.z() - z_of(s);
    const double d0 = sec(s, u, v, a0 * f, b0 * f);
    double d = std::max(d0, std::abs(q.x()) - L / 2);
    if (hollow) d = std::max(d, -std::max(d0 + w, t - q.z()));  // a floor of t where it sinks into the plate
    for (const auto& [at, r] : holes)
      d = std::max(d, r - std::hypot(q.x() - at, q.y() - y_of(at / L + 0.5)));
    return d;
  };
  double steepest = 0, thin = 1e9, top = 0;
  body.box = AlignedBox3d(Vector3d(-L / 2, 0, 0), Vector3d(L / 2, 0, 0));
  for (int i = 0; i <= kSamples; ++i) {
    const double s = double(i) / kSamples, f = prof(s), R = 1.02 * sec.reach(a0 * f, b0 * f);
    body.box.extend(Vector3d(-L / 2, y_of(s) - R, 0));
    body.box.extend(Vector3d(L / 2, y_of(s) + R, z_of(s) + R));
    top = std::max(top, z_of(s) + b0 * f);
    steepest = std::max(steepest, std::abs(y_slope(s)) + a0 * std::abs(prof.slope(s)) / L);
    thin = std::min(thin, 2 * b0 * f);
  }
  p["height"] = round2(top);
  double thinnest = std::min(hollow ? w : thin, holes.empty() ? 1e9 : t) / std::hypot(1.0, steepest);
  Shape s = body;
  s.min_feature = thinnest;
  // Bosses with vertical bores at the ends (not on a tube: they would close it).
  if (!hollow && rng.chance(0.45)) {
    json& q = p["bosses"];
    const int n = rng.integer(1, 2);
    q["count"] = n;
    for (int k = 0; k < n; ++k) {
      const double se = k == 0 ? 1.0 : 0.0;
      const double re = draw(rng, q, k == 0 ? "radius_end" : "radius_start", std::max(a0 * prof(se), 2 * t),
                             std::max(1.5 * a0 * prof(se), 2 * t + 0.5));
      const double he = draw(rng, q, k == 0 ? "height_end" : "height_start", 0.8 * top, std::max(1.8 * top, top + t));
      const Vector3d at((se - 0.5) * L, y_of(se), 0);
      Shape boss = cylinder(2, at, re, 0, he);
      if (re >= 2 * t + 1) {  // a bore of at least t across, a wall of at least t round it
        boss = subtract(boss, cylinder(2, at, round2(uniform2(rng, 0.3, 0.6) * (re - t)), -1, he + 1));
        thinnest = std::min(thinnest, t);
      }
      s = unite(s, boss);
    }
    s.min_feature = thinnest;
  }
  return s;
}

}  // namespace

Shape loft_part(Rng& rng, json& p) {
  const bool stands = rng.chance(0.7);
  p["kind"] = stands ? "standing" : "lying";
  const double size = round2(rng.log_uniform(12, 80));
  p["size"] = size;
  const double t = draw(rng, p, "thickness", std::max(1.0, 0.03 * size), std::clamp(0.08 * size, 1.2, 4.0));
  return on_plate(stands ? standing(rng, p, size, t) : lying(rng, p, size, t));
}

}  // namespace flare::am
