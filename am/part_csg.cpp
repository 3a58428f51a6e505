// The `csg` family (am/part_csg.h): the bodies, and the assembly of body, features, turn and scale
// into one shape. The features are in part_csg_features.cpp.
#include "am/part_csg.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <string_view>

#include "am/part_csg_detail.h"

namespace flare::am {

using Eigen::AlignedBox3d;
using Eigen::Isometry3d;
using Eigen::Vector2d;
using Eigen::Vector3d;
using nlohmann::json;

namespace csg {
namespace {

constexpr double kPi = std::numbers::pi;

const Vector3d X = Vector3d::UnitX(), Y = Vector3d::UnitY(), Z = Vector3d::UnitZ();

Face make_face(std::string name, const Vector3d& o, const Vector3d& u, const Vector3d& n, double lu,
               double lv, double depth, double room) {
  Face f;
  f.name = std::move(name);
  f.frame = face_frame(o, u, n);
  f.lu = lu, f.lv = lv, f.depth = depth, f.room = room;
  f.up = n.z() > 0.5;
  return f;
}

// The top and four side faces of the box [0,L]x[0,W]x[z0,z0+H] (sides with v up).
void box_faces(Ctx& c, const std::string& prefix, double L, double W, double H, double z0,
               double room_up, double room_side) {
  c.faces.push_back(make_face(prefix + "top", Vector3d(0, 0, z0 + H), X, Z, L, W, H, room_up));
  c.faces.push_back(make_face(prefix + "+x", Vector3d(L, 0, z0), Y, X, W, H, L, room_side));
  c.faces.push_back(make_face(prefix + "-x", Vector3d(0, W, z0), -Y, -X, W, H, L, room_side));
  c.faces.push_back(make_face(prefix + "+y", Vector3d(L, W, z0), -X, Y, L, H, W, room_side));
  c.faces.push_back(make_face(prefix + "-y", Vector3d(0, 0, z0), X, -Y, L, H, W, room_side));
}

Shape maybe_chamfered(const Ctx& c, const Vector3d& lo, const Vector3d& hi) {
  const double cc = std::min(c.chamfer, 0.3 * (hi - lo).minCoeff());
  return cc > 0 ? chamfered_box(lo, hi, cc) : box(lo, hi);
}

// A machined block, or a tower; optionally a bevelled top edge and a tunnel under it (a bridge).
json block(Ctx& c) {
  const bool tall = c.rng.chance(0.2);
  double L = c.S, W = 0, H = 0;
  if (tall) {
    H = c.S, L = c.num(0.3 * c.S, 0.8 * c.S), W = c.num(0.3 * c.S, L);
  } else {
    W = c.num(0.35 * c.S, c.S), H = c.num(0.12 * c.S, 0.6 * c.S);
  }
  json j = {{"type", "block"}, {"length", L}, {"width", W}, {"height", H}};
  c.body.push_back(maybe_chamfered(c, Vector3d::Zero(), Vector3d(L, W, H)));
  box_faces(c, "", L, W, H, 0, 0.4 * c.S, 0.25 * c.S);
  Face &top = c.faces[0], &px = c.faces[1], &mx = c.faces[2], &py = c.faces[3], &my = c.faces[4];
  if (H >= 3 * c.t && c.rng.chance(0.3)) {
    // A large bevel along the top edge at x = L or x = 0 (wedge: legs a along -x/+x, b down).
    const bool plus = c.rng.chance(0.5);
    const double a = c.num(c.t, 0.35 * std::min(H, L)), b = c.num(c.t, 0.5 * H);
    Isometry3d pose = Isometry3d::Identity();
    pose.linear().col(0) = plus ? -X : X;
    pose.linear().col(1) = plus ? Y : -Y;
    pose.linear().col(2) = -Z;
    pose.translation() = Vector3d(plus ? L : 0, plus ? -1 : W + 1, H);
    c.cuts.push_back(transform(wedge(Vector3d(a, W + 2, b)), pose));
    top.lu -= a;
    if (!plus) top.frame.translation().x() += a;
    (plus ? px : mx).lv -= b;
    j["edge_bevel"] = {{"edge", plus ? "+x" : "-x"}, {"top", a}, {"side", b}};
  }
  if (!tall && H >= 4 * c.t && L >= 8 * c.t && c.rng.chance(0.3)) {
    // A tunnel along y from the plate up: the material above it is a bridge.
    const double w = c.num(std::max(2 * c.t, 0.2 * L), 0.6 * L - 3 * c.t);
    const double x0 = c.num(1.5 * c.t, L - 1.5 * c.t - w), ht = c.num(1.5 * c.t, H - 2 * c.t);
    const bool arched = c.rng.chance(0.5);
    c.cuts.push_back(arched ? elliptic_cylinder_y(x0 + w / 2, 0, w / 2, ht, -1, W + 1)
                            : box(Vector3d(x0, -1, -1), Vector3d(x0 + w, W + 1, ht)));
    my.used.emplace_back(Vector2d(x0, 0), Vector2d(x0 + w, ht + c.t));
    py.used.emplace_back(Vector2d(L - x0 - w, 0), Vector2d(L - x0, ht + c.t));
    j["tunnel"] = {{"x", x0}, {"width", w}, {"height", ht}, {"arched", arched}};
  }
  c.core = AlignedBox3d(Vector3d::Constant(c.t), Vector3d(L, W, H) - Vector3d::Constant(c.t));
  return j;
}

// An open box: thin walls and floor, optionally an inward lip (overhang) and corner screw bosses.
json housing(Ctx& c) {
  const double L = c.S, W = c.num(0.4 * c.S, c.S), H = c.num(0.2 * c.S, 0.7 * c.S);
  const double tw = c.num(c.t, 2 * c.t), tf = c.num(c.t, 2.5 * c.t);
  json j = {{"type", "housing"}, {"length", L}, {"width", W},
            {"height", H},       {"wall", tw},  {"floor", tf}};
  c.body.push_back(maybe_chamfered(c, Vector3d::Zero(), Vector3d(L, W, H)));
  c.cuts.push_back(box(Vector3d(tw, tw, tf), Vector3d(L - tw, W - tw, H + 1)));
  double lip_t = 0;
  const double lip_w = c.num(c.t, std::max(c.t, std::min(3 * c.t, 0.2 * std::min(L, W) - tw)));
  if (c.rng.chance(0.4)) {
    lip_t = c.num(c.t, 1.5 * c.t);
    c.adds.push_back(
        subtract(box(Vector3d(tw / 2, tw / 2, H - lip_t), Vector3d(L - tw / 2, W - tw / 2, H)),
                 box(Vector3d(tw + lip_w, tw + lip_w, H - lip_t - 1),
                     Vector3d(L - tw - lip_w, W - tw - lip_w, H + 1))));
    j["lip"] = {{"width", lip_w}, {"thickness", lip_t}};
  }
  Face floor = make_face("floor", Vector3d(tw, tw, tf), X, Z, L - 2 * tw, W - 2 * tw, tf,
                         H - tf - (lip_t > 0 ? lip_t + c.t : 0));
  const double rb = c.num(c.t, std::max(c.t, std::min(2 * c.t, 0.12 * std::min(L, W))));
  if (c.rng.chance(0.5) && std::min(L, W) - 2 * tw - 4 * rb >= 2 * c.t) {
    // Screw bosses in the four inner corners, each with a blind hole: a cylinder a radius away
    // from both walls, filled square to the corner (a cylinder overlapping the walls would leave
    // acute slivers of air beside it, closed under a lip).
    const double rh = rb - c.t >= 0.5 * c.t ? c.num(0.5 * c.t, rb - c.t) : 0;
    const double hole_depth = c.num(0.3 * (H - tf), 0.8 * (H - tf));
    for (int corner = 0; corner < 4; ++corner) {
      const double sx = corner & 1 ? -1 : 1, sy = corner & 2 ? -1 : 1;
      const double x0 = corner & 1 ? L - tw : tw, y0 = corner & 2 ? W - tw : tw, x = x0 + sx * rb,
                   y = y0 + sy * rb;
      const double z0 = tf - c.t / 2, e = tw / 2;
      c.adds.push_back(frustum(Vector3d(x, y, z0), Vector3d(x, y, H), rb, rb));
      c.adds.push_back(
          box(Vector3d(std::min(x0 - sx * e, x + sx * rb), std::min(y0 - sy * e, y), z0),
              Vector3d(std::max(x0 - sx * e, x + sx * rb), std::max(y0 - sy * e, y), H)));
      c.adds.push_back(
          box(Vector3d(std::min(x0 - sx * e, x), std::min(y0 - sy * e, y + sy * rb), z0),
              Vector3d(std::max(x0 - sx * e, x), std::max(y0 - sy * e, y + sy * rb), H)));
      if (rh > 0)
        c.holes.push_back(frustum(Vector3d(x, y, H + 1), Vector3d(x, y, H - hole_depth), rh, rh));
      const Vector2d lo(x - tw - 1.5 * rb, y - tw - 1.5 * rb);
      floor.used.emplace_back(lo, lo + Vector2d::Constant(3 * rb));
    }
    j["corner_bosses"] = {{"radius", rb}, {"hole_radius", rh}, {"hole_depth", hole_depth}};
  }
  c.faces.push_back(floor);
  box_faces(c, "", L, W, H, 0, 0, 0.25 * c.S);
  c.faces.erase(c.faces.begin() + 1);  // the rim is no face for features
  for (std::size_t i = 1; i < c.faces.size(); ++i)
    c.faces[i].depth = tw;  // windows go through one wall
  return j;
}

// Coaxial stages (cylinders, cones, prisms) along z: a turned part with bore, cross holes, a
// groove and a bolt circle.
json turned(Ctx& c) {
  struct Stage {
    std::string kind;
    double r, top_r, h, z;
    int sides;
  };
  const double R = c.S / 2;
  std::vector<Stage> stages(std::size_t(c.rng.integer(2, 4)));
  json js = json::array();
  double z = 0, rmin = R;
  for (Stage& s : stages) {
    const double k = c.rng.uniform();
    s.kind = k < 0.6 ? "cylinder" : k < 0.85 ? "cone" : "prism";
    s.r = c.num(0.3 * R, R);
    s.top_r = s.kind == "cone" ? c.num(0.6 * s.r, std::min(1.3 * s.r, R)) : s.r;
    s.sides = s.kind == "prism" ? 2 * c.rng.integer(3, 4) : 0;
    s.h = c.num(std::max(0.08 * c.S, 2 * c.t), 0.35 * c.S);
    s.z = z;
    const double cc = s.kind == "cylinder" ? std::min({c.chamfer, 0.3 * s.r, 0.3 * s.h}) : 0;
    if (s.kind == "prism") {
      c.body.push_back(extruded_polygon(
          [&] {
            std::vector<Vector2d> p;
            for (int i = 0; i < s.sides; ++i)
              p.emplace_back(s.r * std::cos(2 * kPi * i / s.sides),
                             s.r * std::sin(2 * kPi * i / s.sides));
            return p;
          }(),
          z, z + s.h));
    } else {
      c.body.push_back(frustum(Vector3d(0, 0, z), Vector3d(0, 0, z + s.h - cc), s.r, s.top_r));
      if (cc > 0)
        c.body.push_back(
            frustum(Vector3d(0, 0, z + s.h - cc), Vector3d(0, 0, z + s.h), s.r, s.r - cc));
    }
    rmin =
        std::min(rmin, s.kind == "prism" ? s.r * std::cos(kPi / s.sides) : std::min(s.r, s.top_r));
    js.push_back({{"kind", s.kind},
                  {"radius", s.r},
                  {"top_radius", s.top_r},
                  {"height", s.h},
                  {"sides", s.sides},
                  {"chamfer", cc}});
    z += s.h;
  }
  const double total = z;
  json j = {{"type", "turned"}, {"stages", js}};
  double bore = 0;
  if (rmin - 1.5 * c.t >= 0.5 * c.t && c.rng.chance(0.6)) {
    bore = c.num(0.5 * c.t, std::min(0.5 * rmin, rmin - 1.5 * c.t));
    const bool through = c.rng.chance(0.6);
    const double depth = through ? total + 2 : c.num(0.3 * total, 0.8 * total);
    c.holes.push_back(
        frustum(Vector3d(0, 0, total + 1), Vector3d(0, 0, total + 1 - depth), bore, bore));
    j["bore"] = {{"radius", bore}, {"through", through}, {"depth", depth}};
  }
  // Radii that the inner features must stay clear of, per stage.
  auto inscribed = [&](const Stage& s) {
    return s.kind == "prism" ? s.r * std::cos(kPi / s.sides) : std::min(s.r, s.top_r);
  };
  if (c.rng.chance(0.5)) {
    const Stage& s = stages[std::size_t(c.rng.integer(0, int(stages.size()) - 1))];
    const double rmax = std::min(0.5 * s.h - c.t, 0.3 * inscribed(s));
    if (rmax >= 0.5 * c.t) {
      const double rh = c.num(0.5 * c.t, rmax), zc = c.num(s.z + rh + c.t, s.z + s.h - rh - c.t),
                   phi = c.num(0, 180);
      const Vector3d d(std::cos(phi * kPi / 180), std::sin(phi * kPi / 180), 0);
      c.holes.push_back(
          frustum(Vector3d(0, 0, zc) - (R + 1) * d, Vector3d(0, 0, zc) + (R + 1) * d, rh, rh));
      j["cross_hole"] = {{"radius", rh}, {"z", zc}, {"angle_deg", phi}};
    }
  }
  if (c.rng.chance(0.4)) {
    const Stage& s = stages[std::size_t(c.rng.integer(0, int(stages.size()) - 1))];
    const double rg_max = std::min({c.t, 0.2 * s.r, s.r - bore - 1.5 * c.t, 0.5 * s.h - c.t});
    if (s.kind == "cylinder" && rg_max >= 0.5 * c.t) {
      const double rg = c.num(0.5 * c.t, rg_max), zc = c.num(s.z + rg + c.t, s.z + s.h - rg - c.t);
      c.cuts.push_back(torus(Vector3d(0, 0, zc), Z, s.r, rg));
      j["groove"] = {{"radius", rg}, {"z", zc}, {"ring_radius", s.r}};
    }
  }
  for (std::size_t i = 0; i + 1 < stages.size(); ++i) {
    // A bolt circle on the first stage that stands out from the next one by enough for holes.
    const Stage& s = stages[i];
    const double outer = inscribed(s), in = std::max(stages[i + 1].r, bore), width = outer - in;
    if (width < 3 * c.t || !c.rng.chance(0.6)) continue;
    const double rh = c.num(0.5 * c.t, 0.5 * width - c.t), rc = round2((outer + in) / 2);
    int n = c.rng.integer(3, 8);
    while (n > 2 && 2 * kPi * rc / n < 2 * rh + c.t) --n;
    const double top = s.z + s.h, bottom = i == 0 ? -1 : s.z;
    for (int k = 0; k < n; ++k) {
      const Vector3d p(rc * std::cos(2 * kPi * k / n), rc * std::sin(2 * kPi * k / n), 0);
      c.holes.push_back(frustum(p + Vector3d(0, 0, top + c.t), p + Vector3d(0, 0, bottom), rh, rh));
    }
    j["bolt_circle"] = {{"stage", i}, {"count", n}, {"radius", rh}, {"circle_radius", rc}};
    break;
  }
  const Stage& last = stages.back();
  const double q = 0.95 *
                   (last.kind == "prism" ? last.r * std::cos(kPi / last.sides) : last.top_r) /
                   std::sqrt(2.0);
  Face top = make_face("top", Vector3d(-q, -q, total), X, Z, 2 * q, 2 * q, total, 0.3 * c.S);
  if (bore > 0)
    top.used.emplace_back(Vector2d::Constant(q - bore - c.t / 2),
                          Vector2d::Constant(q + bore + c.t / 2));
  c.faces.push_back(top);
  return j;
}

// A standing extruded outline: L, U, star, regular polygon or gear.
json profile(Ctx& c) {
  const double k = c.rng.uniform();
  const std::string_view kind = k < 0.25   ? "L"
                                : k < 0.45 ? "U"
                                : k < 0.6  ? "star"
                                : k < 0.8  ? "polygon"
                                           : "gear";
  const double H = c.rng.chance(0.15) ? c.num(0.6 * c.S, c.S) : c.num(0.1 * c.S, 0.5 * c.S);
  json j = {{"type", "profile"}, {"kind", std::string(kind)}, {"height", H}};
  std::vector<Vector2d> outline;
  if (kind == "L" || kind == "U") {
    const double A = c.S, B = c.num(0.4 * c.S, c.S);
    const double a = kind == "L" ? c.num(0.25 * A, 0.6 * A) : c.num(0.15 * A, 0.35 * A),
                 b = c.num(0.25 * B, 0.5 * B);
    if (kind == "L") {
      outline = {{0, 0}, {A, 0}, {A, b}, {a, b}, {a, B}, {0, B}};
      c.faces.push_back(make_face("arm_top", Vector3d(0, b, H), X, Z, a, B - b, H, 0.4 * c.S));
      c.faces.push_back(make_face("-x", Vector3d(0, B, 0), -Y, -X, B, H, a, 0.25 * c.S));
    } else {
      outline = {{0, 0}, {A, 0}, {A, B}, {A - a, B}, {A - a, b}, {a, b}, {a, B}, {0, B}};
      c.faces.push_back(make_face("arm_top", Vector3d(0, b, H), X, Z, a, B - b, H, 0.4 * c.S));
      c.faces.push_back(make_face("arm2_top", Vector3d(A - a, b, H), X, Z, a, B - b, H, 0.4 * c.S));
    }
    c.faces.push_back(make_face("base_top", Vector3d(0, 0, H), X, Z, A, b, H, 0.4 * c.S));
    c.faces.push_back(make_face("-y", Vector3d(0, 0, 0), X, -Y, A, H, b, 0.25 * c.S));
    c.core = AlignedBox3d(Vector3d::Constant(c.t), Vector3d(A - c.t, b - c.t, H - c.t));
    j.update({{"length", A}, {"width", B}, {"arm", a}, {"base", b}});
  } else {
    const double R = c.S / 2;
    const int n = kind == "star"      ? c.rng.integer(5, 12)
                  : kind == "polygon" ? c.rng.integer(5, 8)
                                      : c.rng.integer(8, 20);
    json radii = json::array();
    const double phase = c.num(0, 1);  // of a vertex (tooth) step: the outline's turn about z
    j["phase"] = phase;
    if (kind == "gear") {
      // Teeth: tip over 36% of the pitch, flanks to the root over 60%; tips at least 1.2 t wide.
      int teeth = n;
      while (teeth > 6 && R * 0.36 * 2 * kPi / teeth < 1.2 * c.t) --teeth;
      const double depth = c.num(std::max(1.5 * c.t, 0.08 * R), std::max(1.5 * c.t, 0.18 * R)),
                   root = R - depth;
      for (int i = 0; i < teeth; ++i)
        for (double f : {-0.3, -0.18, 0.18, 0.3}) {
          const double ang = 2 * kPi * (i + f + phase) / teeth, rr = std::abs(f) < 0.2 ? R : root;
          outline.emplace_back(rr * std::cos(ang), rr * std::sin(ang));
        }
      j.update({{"teeth", teeth}, {"tooth_depth", depth}});
    } else {
      for (int i = 0; i < n; ++i) {
        const double jitter = kind == "star" ? c.num(-0.2, 0.2) : 0,
                     rr = kind == "star" ? c.num(0.55 * R, R) : R;
        const double ang = 2 * kPi * (i + jitter + phase) / n;
        outline.emplace_back(rr * std::cos(ang), rr * std::sin(ang));
        radii.push_back(rr);
      }
      j["vertices"] = n;
      if (kind == "star") j["radii"] = radii;
    }
    // Largest centred circle inside the outline: its nearest edge.
    double inner = R;
    for (std::size_t i = 0, m = outline.size() - 1; i < outline.size(); m = i++) {
      const Vector2d e = outline[i] - outline[m];
      const double t = std::clamp(-outline[m].dot(e) / e.squaredNorm(), 0.0, 1.0);
      inner = std::min(inner, (outline[m] + t * e).norm());
    }
    const double q = 0.95 * inner / std::sqrt(2.0);
    Face top = make_face("top", Vector3d(-q, -q, H), X, Z, 2 * q, 2 * q, H, 0.4 * c.S);
    if (c.rng.chance(0.5) && q >= 2 * c.t) {
      const double bore = c.num(0.5 * c.t, std::max(0.5 * c.t, 0.5 * q - c.t));
      c.holes.push_back(frustum(Vector3d(0, 0, H + 1), Vector3d(0, 0, -1), bore, bore));
      top.used.emplace_back(Vector2d::Constant(q - bore - c.t / 2),
                            Vector2d::Constant(q + bore + c.t / 2));
      j["bore"] = bore;
    }
    c.faces.push_back(top);
    if (q > c.t)
      c.core = AlignedBox3d(Vector3d(-q + c.t, -q + c.t, c.t), Vector3d(q - c.t, q - c.t, H - c.t));
  }
  c.body.push_back(extruded_polygon(outline, 0, H));
  return j;
}

// A bar lying along x with a C, L, inverted-T or dovetail cross-section (y, z).
json bar(Ctx& c) {
  const double k = c.rng.uniform();
  const std::string_view kind = k < 0.3   ? "channel"
                                : k < 0.5 ? "angle"
                                : k < 0.7 ? "tee"
                                          : "dovetail";
  const double L = c.S, W = c.num(0.2 * c.S, 0.5 * c.S), H = c.num(0.2 * c.S, 0.5 * c.S);
  const double t = c.num(c.t, std::max(c.t, std::min(2.5 * c.t, 0.3 * std::min(W, H))));
  json j = {{"type", "bar"}, {"kind", std::string(kind)},
            {"length", L},   {"width", W},
            {"height", H},   {"thickness", t}};
  std::vector<Vector2d> section;
  const double room = 0.3 * c.S;
  if (kind == "channel") {  // opens towards +y: the upper flange overhangs
    section = {{0, 0}, {W, 0}, {W, t}, {t, t}, {t, H - t}, {W, H - t}, {W, H}, {0, H}};
    c.faces.push_back(make_face("top", Vector3d(0, 0, H), X, Z, L, W, t, room));
    c.faces.push_back(make_face("web", Vector3d(0, 0, 0), X, -Y, L, H, t, 0.25 * c.S));
    c.faces.push_back(
        make_face("inner_flange", Vector3d(0, t, t), X, Z, L, W - t, t, H - 2 * t - 0.5 * c.t));
  } else if (kind == "angle") {
    section = {{0, 0}, {W, 0}, {W, t}, {t, t}, {t, H}, {0, H}};
    c.faces.push_back(make_face("flange", Vector3d(0, t, t), X, Z, L, W - t, t, room));
    c.faces.push_back(make_face("web", Vector3d(0, 0, 0), X, -Y, L, H, t, 0.25 * c.S));
  } else if (kind == "tee") {  // flange on top of a web standing on the plate
    const double y0 = (W - t) / 2;
    section = {{y0, 0}, {y0 + t, 0}, {y0 + t, H - t}, {W, H - t},
               {W, H},  {0, H},      {0, H - t},      {y0, H - t}};
    c.faces.push_back(make_face("top", Vector3d(0, 0, H), X, Z, L, W, t, room));
    c.faces.push_back(
        make_face("web", Vector3d(0, y0, 0), X, -Y, L, H - t, t, std::max(0.0, y0 - 0.5 * c.t)));
  } else {  // a < 0: the top is wider than the foot, the sides overhang
    const double a = c.num(-0.25 * W, 0.25 * W), inset = std::max(a, 0.0);
    section = {{0, 0}, {W, 0}, {W - a, H}, {a, H}};
    c.faces.push_back(make_face("top", Vector3d(0, a, H), X, Z, L, W - 2 * a, H, room));
    c.faces.push_back(
        make_face("+x", Vector3d(L, inset, 0), Y, X, W - 2 * inset, H, L, 0.25 * c.S));
    c.core =
        AlignedBox3d(Vector3d(c.t, inset + c.t, c.t), Vector3d(L - c.t, W - inset - c.t, H - c.t));
    j["side_inset"] = a;
  }
  // Section (y, z) extruded along x: local x -> y, local y -> z, local z -> x.
  Isometry3d pose = Isometry3d::Identity();
  pose.linear() << 0, 0, 1, 1, 0, 0, 0, 1, 0;
  c.body.push_back(transform(extruded_polygon(section, 0, L), pose));
  return j;
}

// An L or U bracket: base plate, uprights with gussets, for U optionally a deck (a bridge).
json bracket(Ctx& c) {
  const double L = c.S, W = c.num(0.3 * c.S, 0.8 * c.S), Hu = c.num(0.3 * c.S, c.S);
  const double tb = c.num(c.t, std::max(c.t, std::min(2.5 * c.t, 0.1 * c.S))),
               tw = c.num(c.t, 2 * c.t);
  const bool two = c.rng.chance(0.3), deck = two && c.rng.chance(0.5);
  const double td = deck ? c.num(c.t, 2 * c.t) : 0;
  json j = {{"type", "bracket"}, {"length", L},   {"width", W},          {"height", Hu},
            {"base", tb},        {"upright", tw}, {"two_uprights", two}, {"deck", td}};
  c.body.push_back(box(Vector3d::Zero(), Vector3d(L, W, tb)));
  c.body.push_back(box(Vector3d::Zero(), Vector3d(tw, W, Hu)));
  if (two) c.body.push_back(box(Vector3d(L - tw, 0, 0), Vector3d(L, W, Hu)));
  if (deck) c.body.push_back(box(Vector3d(0, 0, Hu - td), Vector3d(L, W, Hu)));
  const double gap = L - (two ? 2 : 1) * tw;
  Face base = make_face("base_top", Vector3d(tw, 0, tb), X, Z, gap, W, tb,
                        deck ? Hu - td - tb - 0.5 * c.t : 0.4 * c.S);
  const double upright_room = two ? 0.4 * gap : 0.25 * c.S;
  Face front = make_face("upright", Vector3d(tw, 0, tb), Y, X, W, Hu - tb - td, tw, upright_room);
  Face back = make_face("upright_back", Vector3d(0, W, 0), -Y, -X, W, Hu, tw, 0.25 * c.S);
  Face front2 =
      make_face("upright2", Vector3d(L - tw, W, tb), -Y, -X, W, Hu - tb - td, tw, upright_room);
  const int gussets = c.rng.integer(0, 2);
  if (gussets > 0) {
    const double tg = c.num(c.t, 1.5 * c.t);
    const double a = c.num(0.2 * std::min(two ? gap / 2 : gap, Hu - tb - td),
                           0.5 * std::min(two ? gap / 2 : gap, Hu - tb - td));
    for (int g = 0; g < gussets; ++g) {
      const double y = gussets == 1 ? (W - tg) / 2 : g == 0 ? c.t : W - c.t - tg;
      c.body.push_back(translate(wedge(Vector3d(a, tg, a)), Vector3d(tw, y, tb)));
      base.used.emplace_back(Vector2d(0, y - c.t / 2), Vector2d(a + c.t / 2, y + tg + c.t / 2));
      front.used.emplace_back(Vector2d(y - c.t / 2, 0), Vector2d(y + tg + c.t / 2, a + c.t / 2));
      if (two) {  // the same gusset turned by 180 degrees about z onto the second upright
        Isometry3d pose = Isometry3d::Identity();
        pose.linear() = Eigen::AngleAxisd(kPi, Z).toRotationMatrix();
        pose.translation() = Vector3d(L - tw, y + tg, tb);
        c.body.push_back(transform(wedge(Vector3d(a, tg, a)), pose));
        base.used.emplace_back(Vector2d(gap - a - c.t / 2, y - c.t / 2),
                               Vector2d(gap, y + tg + c.t / 2));
        front2.used.emplace_back(Vector2d(W - y - tg - c.t / 2, 0),
                                 Vector2d(W - y + c.t / 2, a + c.t / 2));
      }
    }
    j["gussets"] = {{"count", gussets}, {"thickness", tg}, {"size", a}};
  }
  c.faces = {base, front, back};
  if (two) c.faces.push_back(front2);
  if (deck) c.faces.push_back(make_face("deck_top", Vector3d(0, 0, Hu), X, Z, L, W, td, 0.3 * c.S));
  return j;
}

}  // namespace
}  // namespace csg

Shape csg_part(Rng& rng, json& p) {
  using csg::Ctx;
  Ctx c(rng);
  c.S = round2(rng.log_uniform(10, 120));
  const double k = rng.uniform();
  const int kind = k < 0.26 ? 0 : k < 0.4 ? 1 : k < 0.56 ? 2 : k < 0.72 ? 3 : k < 0.86 ? 4 : 5;
  // Solid bodies take thicker minimum features: two voxels across t must keep them within the
  // node budget (with S/30 about 6% of the blocks and turned parts needed a second draw).
  const bool bulky = kind == 0 || kind == 2 || kind == 3;
  c.t = bulky ? c.num(c.S / 24, c.S / 14) : c.num(c.S / 30, c.S / 16);
  c.chamfer = rng.chance(0.6) ? c.num(0.3 * c.t, c.t) : 0;
  json body = kind == 0   ? csg::block(c)
              : kind == 1 ? csg::housing(c)
              : kind == 2 ? csg::turned(c)
              : kind == 3 ? csg::profile(c)
              : kind == 4 ? csg::bar(c)
                          : csg::bracket(c);
  csg::add_features(c, rng.integer(2, 8));
  // Turned parts and round outlines are turned about z already (their features at random angles,
  // outlines at a random phase); turning their square boxes would only loosen them.
  const bool round = kind == 2 || (kind == 3 && body["kind"] != "L" && body["kind"] != "U");
  const double turn = rng.chance(0.5) || round ? 0 : c.num(0, 90);

  // Design -> part: centre the footprint, turn about z, scale the largest dimension to S.
  AlignedBox3d design;
  design.setEmpty();
  for (const auto* list : {&c.body, &c.adds})
    for (const Shape& s : *list) design.extend(s.box);
  Isometry3d pose = Eigen::AngleAxisd(turn * std::numbers::pi / 180, Vector3d::UnitZ()) *
                    Eigen::Translation3d(-design.center().x(), -design.center().y(), 0);
  AlignedBox3d turned;
  turned.setEmpty();
  for (const auto* list : {&c.body, &c.adds})
    for (const Shape& s : *list)
      for (int corner = 0; corner < 8; ++corner)
        turned.extend(pose * s.box.corner(AlignedBox3d::CornerType(corner)));
  const double scale = c.S / turned.sizes().maxCoeff();

  // One pass over the operations per point, skipping those whose box does not hold it: outside
  // its box an added shape cannot add and a cut cannot remove, so the sign is unchanged.
  struct Op {
    bool add;
    Sdf f;
    AlignedBox3d box;
  };
  auto ops = std::make_shared<std::vector<Op>>();
  auto push = [&](const std::vector<Shape>& list, bool add) {
    for (const Shape& s : list) {
      const Vector3d pad = Vector3d::Constant(1e-9 * (1 + s.box.sizes().maxCoeff()));
      ops->push_back({add, s.sdf, AlignedBox3d(s.box.min() - pad, s.box.max() + pad)});
    }
  };
  push(c.body, true);
  push(c.cuts, false);
  push(c.adds, true);
  push(c.holes, false);
  Shape part;
  const Isometry3d inverse = pose.inverse();
  part.sdf = [ops, inverse, scale](const Vector3d& x) {
    const Vector3d q = inverse * (x / scale);
    double v = 1e30;
    for (const Op& op : *ops) {
      if (!op.box.contains(q)) continue;
      const double f = op.f(q);
      v = op.add ? std::min(v, f) : std::max(v, -f);
    }
    return std::max(scale * v, -x.z());  // nothing below the plate
  };
  part.box = AlignedBox3d(turned.min() * scale, turned.max() * scale);
  part.box.min().z() = 0;
  part.min_feature = c.t * scale;

  p["size_mm"] = c.S;
  p["min_thickness"] = c.t;
  p["chamfer"] = c.chamfer;
  p["rotation_z_deg"] = turn;
  p["scale"] = scale;
  p["body"] = std::move(body);
  p["features"] = std::move(c.features);
  return part;
}

}  // namespace flare::am
