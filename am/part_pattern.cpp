// The `pattern` family (am/part_pattern.h): its entry, which draws the layout and redraws designs
// far over the node budget, and the radial arrays (impellers, wheels, stars). The other layouts
// are in part_pattern_linear.cpp, part_pattern_helix.cpp and part_pattern_circular.cpp.
#include "am/part_pattern.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>

#include "am/part_pattern_detail.h"

namespace flare::am {

using Eigen::AlignedBox3d;
using Eigen::Vector3d;
using nlohmann::json;

namespace pattern {
namespace {

// A circular array of identical blades standing on z0, described in polar coordinates: the
// blade's mid-surface passes through angle phase + theta(r) at radius r (plus the lean's shift
// with height), and the point is folded into the nearest blade's sector, so the field is
// sign-exact for any count as long as neighbouring blades keep a gap (max_count).
struct Blades {
  int n = 3;
  double phase = 0;
  double r0 = 0, rv = 0,
         r1 = 0;  // solid from r0 (inside the hub or ring it grows from), free from rv, to r1
  double w0 = 0, w1 = 0;         // normal thickness at rv and at r1
  double z0 = 0, sink = 0;       // foot height; the blade reaches `sink` below it into its support
  double h0 = 0, h1 = 0;         // heights above z0 at rv and at r1
  std::string sweep = "radial";  // radial, offset (a straight line e from the axis), spiral, arc
  double e = 0;                  // offset: the line's distance from the axis
  double spiral = 0;             // spiral: tan of the constant angle between blade and radius
  double turn = 0;               // arc: the angle (rad) the blade turns through from rv to r1
  double lean = 0;               // tilt (rad) from vertical about the blade's radial line
  // Free ends (not inside a hub, ring or rim) are cut square to the blade, the far corner at rv
  // or r1: the circle r = r1 would leave an acute sliver on a swept blade, thinner than a voxel.
  bool free_inner = false, free_outer = false;

  double u(double r) const { return std::clamp((r - rv) / (r1 - rv), 0.0, 1.0); }
  double theta(double r) const {
    if (sweep == "offset")
      return std::asin(std::min(1.0, e / r)) - std::asin(std::min(1.0, e / rv));
    if (sweep == "spiral") return spiral * std::log(r / rv);
    if (sweep == "arc") return turn * u(r) * u(r);
    return 0;
  }
  // r dtheta/dr: the tangent of the angle between the blade and the radius.
  double slope(double r) const {
    if (sweep == "offset") return e / std::sqrt(std::max(r * r - e * e, 1e-6 * r * r));
    if (sweep == "spiral") return spiral;
    if (sweep == "arc") return r * turn * 2 * u(r) / (r1 - rv);
    return 0;
  }
  double width(double r) const { return w0 + (w1 - w0) * u(r); }
  double height(double r) const { return h0 + (h1 - h0) * u(r); }
  // Circumferential width that gives the normal thickness w(r): the blade surface is tilted by
  // the sweep (slope) and the lean.
  double stretch(double r) const {
    const double tl = std::tan(lean), s = slope(r);
    return std::sqrt(1 + s * s + tl * tl);
  }

  double operator()(const Vector3d& q) const {
    const double r = std::hypot(q.x(), q.y()), z = q.z() - z0;
    const double re = std::max(r, rv);  // inside the hub the blade keeps its root section
    const double out = std::max({r0 - r, r - r1, -sink - z, z - height(re)});
    const double a = std::atan2(q.y(), q.x()) - phase - theta(re) - z * std::tan(lean) / re;
    const double s =
        wrap(a, 2 * kPi / n) * r;  // signed offset from the mid-surface, across the radius
    double d = std::max(out, std::abs(s) - 0.5 * width(re) * stretch(re));
    // The end plane through the tip's centre, normal to the blade (direction (1, slope) in
    // radius and offset), moved so that its outermost corner is at the end radius.
    auto end = [&](double r_end, double side) {
      const double sl = slope(r_end), half = 0.5 * width(r_end) * stretch(r_end);
      return (side * sl * s + std::abs(sl) * half) / (1 + sl * sl);
    };
    if (free_outer) d = std::max(d, r - (r1 - end(r1, 1)));
    if (free_inner) d = std::max(d, rv + end(rv, -1) - r);
    return d;
  }

  // The most blades that leave a gap of at least t between neighbours over [rv, r1].
  int max_count(double t) const {
    double most = 1e9;
    for (int i = 0; i <= 24; ++i) {
      const double r = rv + (r1 - rv) * i / 24;
      most = std::min(most, 2 * kPi * r / ((width(r) + t) * stretch(r)));
    }
    return int(std::floor(most));
  }
  // Free blade length along its curve, mean height and thickness (for the node estimate).
  std::array<double, 3> size() const {
    double len = 0, h = 0, w = 0;
    for (int i = 0; i < 16; ++i) {
      const double r = rv + (r1 - rv) * (i + 0.5) / 16, sl = slope(r);
      len += (r1 - rv) / 16 * std::sqrt(1 + sl * sl);
      h += height(r) / 16, w += width(r) / 16;
    }
    return {len, h / std::cos(lean), w};
  }
  Shape shape() const { return field(*this, round_box(r1, z0 - sink, z0 + std::max(h0, h1))); }
};

// The blades' count, sweep, lean and thickness, drawn before the design's t and the blades'
// radii: n blades of thickness w and gap t need a circumference of n (w + t) stretch at their
// root, so t is drawn small enough for a root within `root_room` S of the axis, and the root
// radius that the blades need is returned. The count (3-24, favouring the low ones) is kept over
// redraws, but lowered where even t = S/k_cap would not fit it (finer, the design leaves the
// node budget); a free inner end (root_blades) is given no lean.
double plan_blades(Ctx& c, Blades& b, double lean_chance, double root_room, double k_cap) {
  b.n = c.count_of("blades", 3, 24, 2.0);
  b.sweep = c.choose("sweep", {{"radial", 0.3}, {"offset", 0.2}, {"spiral", 0.3}, {"arc", 0.2}});
  double slope = 0;
  if (b.sweep == "offset") {
    b.e = c.draw("offset_ratio", 0.2, 0.9);  // of the root radius: set in root_blades
    slope = b.e / std::sqrt(1 - b.e * b.e);
  }
  if (b.sweep == "spiral") slope = b.spiral = std::tan(c.draw("spiral_angle_deg", 15, 60) * kDeg);
  if (b.sweep == "arc") b.turn = c.draw("arc_turn_deg", 15, 75) * kDeg;
  b.lean = c.rng.chance(lean_chance) ? c.num(5, 35) * kDeg : 0;
  const double stretch = std::sqrt(1 + slope * slope + std::pow(std::tan(b.lean), 2));
  const double room = 2 * kPi * root_room / stretch;  // (w + t) n / S at most
  b.n = std::max(3, std::min(b.n, int(k_cap * room / 2)));
  c.p["blades"] = b.n;
  const double k = b.n * 2 / room;  // thinnest blades (w = t)
  const double t = c.thickness(std::max(20.0, k), std::max(45.0, k + 5), k_cap);
  const double ratio =
      c.num(1, std::max(1.0, std::min(b.n > 12 ? 1.5 : 2.5, room * c.S / (b.n * t) - 1)));
  b.w0 = std::max(t, round2(ratio * t));
  c.p["blade_thickness"] = b.w0;
  b.w1 = c.rng.chance(0.35) ? c.num(t, b.w0) : b.w0;
  c.p["blade_tip_thickness"] = b.w1;
  return b.n * (b.w0 + t) * stretch / (2 * kPi);
}

// Once the root radius is set: the offset in mm, and no lean on a free inner end (its top
// corner, sheared layer by layer under a tapered top, left single voxels standing diagonally on
// the layer below: 2 parts in 600). Returns the nodes of one voxel layer of the blades.
double root_blades(Ctx& c, Blades& b) {
  if (b.sweep == "offset") c.p["offset"] = b.e = round2(b.e * b.rv);
  if (b.free_inner) b.lean = 0;
  c.p["lean_deg"] = round2(b.lean / kDeg);
  const auto [len, h, w] = b.size();
  return b.n * c.layer(len, w);
}

// Once the heights are set too: the phase; the count must keep the gap t everywhere.
void finish_blades(Ctx& c, Blades& b) {
  b.phase = c.draw("phase_deg", 0, 360) * kDeg;
  if (b.max_count(c.t) < b.n) c.infeasible = true;
  const auto [len, h, w] = b.size();
  c.count(len, h, w, b.n);
}

// A hole between each two blades at their foot, on the circle midway between r_in and r_out;
// none when a hole would come closer than t to a blade (its radius is halved up to twice to fit).
Shape holes_between(Ctx& c, const Blades& b, double r_in, double r_out, double tb) {
  const double t = c.t;
  double r = c.num(0.5 * t, std::max(0.5 * t, 0.25 * (r_out - r_in) - t));
  const double rc = round2((r_in + r_out) / 2);
  for (int attempt = 0; attempt < 3; ++attempt, r = round2(r / 2)) {
    if (r < 0.5 * t || rc - r - t < r_in || rc + r + t > r_out) continue;
    const double at = b.phase + b.theta(rc) + kPi / b.n;
    const Vector3d centre(rc * std::cos(at), rc * std::sin(at), b.z0 + 1e-3);
    bool clear = true;
    for (int k = 0; k < 32 && clear; ++k) {
      const double a = 2 * kPi * k / 32;
      clear = b(centre + (r + t) * Vector3d(std::cos(a), std::sin(a), 0)) > 0;
    }
    if (!clear) continue;
    c.p["hole_radius"] = r;
    c.p["hole_circle_radius"] = rc;
    c.p["holes_between_blades"] = b.n;
    // Through the disc and a quarter of t above it: a leaning blade, a t away at its foot, moves
    // less than that within it.
    return bolt_circle(b.n, rc, r, at, tb + 0.25 * t);
  }
  c.p["holes_between_blades"] = 0;
  return {};
}

}  // namespace

// Blades on a disc: an impeller or fan, with an optional hub and bore, a shroud on the blades or
// a ring around them, a flange with a bolt circle beyond them and holes between them.
Shape impeller(Ctx& c) {
  const double R = c.S / 2;
  Blades b;
  const double root_need = plan_blades(c, b, 0.3, 0.35, Ctx::k_cap(3 * kPi, 2));  // the disc
  const double t = c.t;
  const double tb = c.draw("disc_thickness", t, 2.5 * t);
  const std::string outer = c.choose("outer", {{"none", 0.45}, {"shroud", 0.3}, {"ring", 0.25}});
  const double margin = c.rng.chance(0.35) ? c.num(3 * t, std::max(3 * t, 0.25 * R)) : 0;
  c.p["flange_margin"] = margin;
  const double tr = outer == "ring" ? c.draw("ring_thickness", t, 2.5 * t) : 0;
  const double r_tip = R - margin - tr;  // where the free blades end
  const bool hub = c.chance("hub", 0.7);
  double bore = 0, rh = 0;
  if (hub) {
    rh = c.draw("hub_radius", std::max(2 * t, 0.1 * R), std::max(2 * t, 0.35 * R));
    if (rh - 1.5 * t >= 0.5 * t && c.rng.chance(0.7)) bore = c.num(0.5 * t, rh - 1.5 * t);
  }
  if (hub && root_need <= rh) {  // the blades grow from the hub
    b.rv = rh;
    b.r0 = b.rv - std::min(t, 0.5 * (b.rv - bore));
  } else {  // they start on the disc, further out when there are many
    const double lo = std::max({2 * t, 0.15 * R, root_need, rh + 2 * t});
    b.rv = b.r0 = c.num(lo, std::max(lo, 0.7 * R));
    b.free_inner = true;
    if (!hub && b.rv - 1.5 * t >= 0.5 * t && c.rng.chance(0.5))
      bore = c.num(0.5 * t, b.rv - 1.5 * t);
  }
  c.p["blade_root_radius"] = b.rv;
  c.p["bore_radius"] = bore;
  if (r_tip - b.rv < 3 * t) c.infeasible = true;
  b.r1 = r_tip + (outer == "ring" ? std::min(t, 0.5 * tr) : 0);
  b.free_outer = outer != "ring";
  b.z0 = tb, b.sink = 0.5 * tb;
  c.count_disc(R, 0, tb);
  const double per_layer = root_blades(c, b) + (hub ? c.disc_layer(rh, bore) : 0);
  const double h_lo = std::max(2 * t, 0.08 * c.S);
  const double h =
      c.draw("blade_height", h_lo, std::max(h_lo, std::min(0.4 * c.S, c.height_room(per_layer))));
  b.h0 = b.h1 = h;
  // A leaning blade keeps its height: a sloped top sheared by the lean left single voxels at the
  // free end's top corner.
  if (outer != "shroud" && b.lean == 0 && c.rng.chance(0.4)) b.h1 = c.num(std::max(t, 0.3 * h), h);
  c.p["blade_tip_height"] = b.h1;
  finish_blades(c, b);

  Shape s = cylinder(2, Vector3d::Zero(), R, 0, tb);
  double top = tb + std::max(b.h0, b.h1);
  if (hub) {
    const double hh = c.draw("hub_height", tb + std::max(t, 0.5 * h), std::min(c.S, tb + 1.5 * h));
    s = unite(s, cylinder(2, Vector3d::Zero(), rh, 0, hh));
    c.count_disc(rh, bore, hh - tb);
    top = std::max(top, hh);
  }
  if (outer == "shroud") {
    // A cover ring on the blade tops with an eye around the hub: the blades reach into it.
    const double ts = c.draw("shroud_thickness", t, 2 * t);
    const double eye =
        c.draw("eye_radius", b.rv + t, std::max(b.rv + t, b.rv + 0.6 * (r_tip - b.rv)));
    b.h0 = b.h1 = h + 0.5 * ts;
    s = unite(s, annulus(R - margin, eye, tb + h, tb + h + ts));
    c.count_disc(R - margin, eye, ts);
    top = std::max(top, tb + h + ts);
  } else if (outer == "ring") {
    const double hr = c.draw("ring_height", std::max(t, 0.5 * b.h1), std::max(t, b.h1));
    s = unite(s, annulus(R - margin, r_tip, tb - 0.5 * tb, tb + hr));
    c.count_disc(R - margin, r_tip, hr);
  }
  s = unite(s, b.shape());
  if (bore > 0) s = subtract(s, cylinder(2, Vector3d::Zero(), bore, -1, top + 1));
  if (margin >= 3 * t && c.chance("bolt_circle", 0.6)) {
    const double r = c.draw("bolt_hole_radius", 0.5 * t, std::max(0.5 * t, 0.5 * margin - t));
    const double rc = round2(R - 0.5 * margin);
    const int most = int(std::floor(kPi / std::asin(std::min(1.0, (2 * r + t) / (2 * rc)))));
    const int n = c.draw_int("bolt_holes", 3, std::min(12, most));
    c.p["bolt_circle_radius"] = rc;
    s = subtract(s, bolt_circle(n, rc, r, b.phase, tb + 1));
  }
  if (c.chance("lightening_holes", 0.35)) {
    Shape holes = holes_between(c, b, std::max(b.rv, bore + t), r_tip, tb);
    if (holes.sdf) s = subtract(s, holes);
  }
  return s;
}

// The hub (or core) the blades start from, of radius in [lo, max(lo, hi)], bored with chance
// `bore_chance` where a wall of 1.5 t stays around the bore; the blade roots reach t into it.
// Returns the bore radius (0: none).
double draw_core(Ctx& c, Blades& b, const char* key, double lo, double hi, double bore_chance) {
  const double t = c.t;
  b.rv = c.draw(key, lo, std::max(lo, hi));
  double bore = 0;
  if (b.rv - 1.5 * t >= 0.5 * t && c.rng.chance(bore_chance)) bore = c.num(0.5 * t, b.rv - 1.5 * t);
  c.p["bore_radius"] = bore;
  b.r0 = b.rv - std::min(t, 0.5 * (b.rv - bore));
  return bore;
}

// A wheel lying flat: hub and rim joined by spokes that stand on the plate or bridge between
// them higher up (full-height spokes make a vane ring).
Shape wheel(Ctx& c) {
  const double R = c.S / 2;
  Blades b;
  const double root_need = plan_blades(c, b, 0.2, 0.25, 50);
  const double t = c.t;
  const double tr = c.draw("rim_width", t, 3 * t);
  const double bore =
      draw_core(c, b, "hub_radius", std::max({2 * t, 0.08 * R, root_need}), 0.3 * R, 0.7);
  b.r1 = R - tr + std::min(t, 0.5 * tr);
  if (R - tr - b.rv < 3 * t) c.infeasible = true;
  // Heights within the budget: the rim's as if hub and spokes were as high, then the hub's.
  const double spokes = root_blades(c, b), rim = c.disc_layer(R, R - tr),
               hub = c.disc_layer(b.rv, bore);
  const double hr_lo = std::max(2 * t, 0.06 * c.S), hh_lo = hr_lo;
  const double hr =
      c.draw("rim_height", hr_lo,
             std::max(hr_lo, std::min(0.35 * c.S, c.height_room(rim + hub + spokes))));
  c.count_disc(R, R - tr, hr);
  const double hh = c.draw("hub_height", hh_lo,
                           std::max(hh_lo, std::min(0.5 * c.S, c.height_room(hub + spokes))));
  c.count_disc(b.rv, bore, hh);
  const double room = std::min(hr, hh);
  double hs = room, z0 = 0;
  if (!c.chance("full_height", 0.3)) {
    hs = c.num(t, std::max(t, room));
    if (c.rng.chance(0.4)) z0 = c.num(0, room - hs);
  }
  c.p["spoke_height"] = hs;
  c.p["spoke_z"] = z0;
  b.z0 = z0, b.h0 = b.h1 = hs;
  finish_blades(c, b);
  Shape s = unite(annulus(R, R - tr, 0, hr), cylinder(2, Vector3d::Zero(), b.rv, 0, hh));
  s = unite(s, b.shape());
  if (bore > 0) s = subtract(s, cylinder(2, Vector3d::Zero(), bore, -1, hh + 1));
  return s;
}

// Fins around a core standing on the plate (a radial heat sink, a star knob), the fins as high
// as the core or lower, optionally falling towards their tips.
Shape star(Ctx& c) {
  const double R = c.S / 2;
  Blades b;
  const double root_need = plan_blades(c, b, 0.2, 0.2, 50);
  const double t = c.t;
  const double bore =
      draw_core(c, b, "core_radius", std::max({2 * t, 0.1 * R, root_need}), 0.4 * R, 0.5);
  b.r1 = R;
  b.free_outer = true;
  if (R - b.rv < 3 * t) c.infeasible = true;
  const double fins = root_blades(c, b), hc_lo = std::max(2 * t, 0.15 * c.S);
  const double hc =
      c.draw("core_height", hc_lo,
             std::max(hc_lo, std::min(c.S, c.height_room(fins + c.disc_layer(b.rv, bore)))));
  b.h0 = b.h1 = c.draw("fin_height", std::max(2 * t, 0.3 * hc), std::max(2 * t, hc));
  if (b.lean == 0 && c.rng.chance(0.5))
    b.h1 = c.num(std::max(t, 0.2 * b.h0), b.h0);  // as on impellers
  c.p["fin_tip_height"] = b.h1;
  c.count_disc(b.rv, bore, hc);
  finish_blades(c, b);
  Shape s = unite(cylinder(2, Vector3d::Zero(), b.rv, 0, hc), b.shape());
  if (bore > 0) s = subtract(s, cylinder(2, Vector3d::Zero(), bore, -1, std::max(hc, b.h0) + 1));
  return s;
}

}  // namespace pattern

Shape pattern_part(Rng& rng, json& p) {
  using pattern::Ctx;
  struct Kind {
    const char* layout;
    const char* kind;
    double weight;
    Shape (*build)(Ctx&);
  };
  // Shares: the linear arrays and the helices a little more than the others (grids and fins of
  // pins and heat sinks, coils and threads are each a common part of their own).
  static const Kind kinds[] = {
      {"radial", "impeller", 0.11, pattern::impeller},
      {"radial", "wheel", 0.07, pattern::wheel},
      {"radial", "star", 0.06, pattern::star},
      {"grid", "pin_grid", 0.17, pattern::pin_grid},
      {"fins", "fin_array", 0.15, pattern::fin_array},
      {"helix", "coil", 0.11, pattern::coil},
      {"helix", "thread", 0.11, pattern::thread},
      {"circular", "flange", 0.09, pattern::flange},
      {"circular", "toothed", 0.09, pattern::toothed},
      {"circular", "castellated", 0.04, pattern::castellated},
  };
  constexpr int kDraws = 32, kKeep = 8;
  double u = rng.uniform();
  const Kind* pick = &kinds[0];
  for (const Kind& k : kinds)
    if ((u -= k.weight) < 0 || &k == &kinds[std::size(kinds) - 1]) {
      pick = &k;
      break;
    }
  const double S = round2(rng.log_uniform(10, 120));
  // A design over the budget (or without room for its pattern) is redrawn here from the same
  // generator, before make_part would voxelise it to find out; its kind and size stay, so the
  // kinds keep their shares, and its choices and counts stay for kKeep draws (Ctx::kept).
  json kept = json::object();
  for (int draw = 0;; ++draw) {
    if (draw % kKeep == 0) kept = json::object();
    json q = json::object();
    q["layout"] = pick->layout;
    q["kind"] = pick->kind;
    q["size_mm"] = S;
    Ctx c(rng, q, kept);
    c.S = S;
    c.lightest = draw >= kDraws - kKeep;
    Shape s = pick->build(c);
    if ((c.infeasible || c.nodes > Ctx::kBudget) && draw + 1 < kDraws) continue;
    q["estimated_nodes"] = std::llround(c.nodes);
    q["design_draws"] = draw + 1;
    p = std::move(q);
    s.min_feature = c.t;
    return on_plate(s);
  }
}

}  // namespace flare::am
