// Helical sweeps of the `pattern` family (am/part_pattern.h): coils standing on end, and helical
// ribs (threads, auger flights) around a core. Both fields are sign-exact in the section normal
// to the helix: the axial distance to the centreline, shortened by the cosine of the helix angle.
#include <algorithm>
#include <cmath>
#include <limits>

#include "am/part_pattern_detail.h"

namespace flare::am::pattern {

using Eigen::AlignedBox3d;
using Eigen::Vector3d;

namespace {

// A wire of half-width ar (radial) and half-height az (round: a circle of radius ar = az) along a
// helix of radius rc, unwound angle phi from 0 to total(): a closed bottom end turn lies flat
// for `flat` and then rises by one wire height, `turns` active turns rise by `pitch` each, a
// closed top end turn rises by one wire height and then lies flat. The ends are cut radially.
struct Coil {
  double rc = 0, ar = 0, az = 0;
  bool round = true, closed_bottom = false, closed_top = false;
  double pitch = 0, turns = 0, flat = 0, z_start = 0, phase = 0, cos_a = 1;

  double total() const { return 2 * kPi * (turns + closed_bottom + closed_top); }
  double centre(double phi) const {
    double z = z_start;
    if (closed_bottom) {
      if (phi < 2 * kPi) return z + 2 * az * std::max(0.0, phi - flat) / (2 * kPi - flat);
      z += 2 * az, phi -= 2 * kPi;
    }
    const double active = 2 * kPi * turns;
    if (phi <= active) return z + pitch * phi / (2 * kPi);
    return z + pitch * turns + 2 * az * std::min(1.0, (phi - active) / (2 * kPi - flat));
  }
  double top() const { return centre(total()) + az / cos_a; }

  double operator()(const Vector3d& q) const {
    double psi = std::atan2(q.y(), q.x()) - phase;
    psi -= 2 * kPi * std::floor(psi / (2 * kPi));
    const double radial = std::abs(std::hypot(q.x(), q.y()) - rc);
    double best = std::numeric_limits<double>::max();
    for (double phi = psi; phi <= total(); phi += 2 * kPi) {
      const double dz = std::abs(q.z() - centre(phi)) * cos_a;
      best = std::min(best, round ? std::hypot(radial, dz) - ar : std::max(radial - ar, dz - az));
    }
    return best;
  }
};

// A helical rib on a cylinder: external from the core radius `root` outwards by `depth`, or
// internal from the bore radius `root` inwards. Axial spacing s between neighbouring ribs, lead
// (advance a turn) starts * s; width w_root at the root, w_tip at the tip, normal to the rib.
// `sink` reaches into the wall it stands on; cut flat at z_lo and z_hi.
struct Rib {
  bool internal = false;
  double root = 0, depth = 0, sink = 0, w_root = 0, w_tip = 0, spacing = 0, lead = 0;
  double z_lo = 0, z_hi = 0, phase = 0;

  double width(double r) const {
    const double u = std::clamp((internal ? root - r : r - root) / depth, 0.0, 1.0);
    return w_root + (w_tip - w_root) * u;
  }
  // Axial width at radius r: the rib rises at atan(lead / (2 pi r)).
  double axial(double r) const {
    const double k = lead / (2 * kPi * r);
    return width(r) * std::sqrt(1 + k * k);
  }
  double operator()(const Vector3d& q) const {
    const double r = std::hypot(q.x(), q.y());
    const double lo = internal ? root - depth : root - sink,
                 hi = internal ? root + sink : root + depth;
    const double a = std::atan2(q.y(), q.x()) - phase;
    const double du = wrap(q.z() - z_lo - lead * a / (2 * kPi), spacing);
    return std::max({std::abs(du) - 0.5 * axial(std::max(r, 1e-9)), lo - r, r - hi, z_lo - q.z(),
                     q.z() - z_hi});
  }
};

}  // namespace

// A spring standing on end: round or rectangular wire, 1-8 active turns with a gap of at least t,
// closed or open ends, ground flat or standing on a base plate, optionally a top plate on a
// closed top end.
Shape coil(Ctx& c) {
  const double t = c.thickness(16, 40);
  Coil k;
  k.round = c.choose("section", {{"round", 0.7}, {"rectangular", 0.3}}) == "round";
  if (k.round) {
    k.ar = k.az = c.draw("wire_radius", 0.5 * t, 1.25 * t);
  } else {
    k.ar = c.draw("wire_half_width", 0.5 * t, 1.5 * t);
    k.az = c.draw("wire_half_height", 0.5 * t, 1.5 * t);
  }
  const bool plate = c.choose("support", {{"ground", 0.6}, {"plate", 0.4}}) == "plate";
  k.closed_bottom = c.choose("bottom_end", {{"closed", 0.7}, {"open", 0.3}}) == "closed";
  k.closed_top = c.choose("top_end", {{"closed", 0.5}, {"open", 0.5}}) == "closed";
  k.flat = k.closed_bottom || k.closed_top ? c.draw("flat_deg", 90, 270) * kDeg : 0;
  const bool top_plate = k.closed_top && c.chance("top_plate", 0.3);
  const double tp = plate ? c.draw("plate_thickness", t, 2.5 * t) : 0;
  const double tt = top_plate ? c.draw("top_plate_thickness", t, 2 * t) : 0;
  // The part is S wide (its widest radius S/2: a plate's or the coil's) or S high.
  const bool wide = c.chance("wide", 0.5);
  const double r_all = wide ? c.S / 2 : c.num(std::max(0.15 * c.S, 2 * k.ar + 3 * t), 0.5 * c.S);
  const double margin = plate || top_plate ? c.draw("plate_margin", t, std::max(t, 0.15 * c.S)) : 0;
  const double reach = round2(r_all - margin);
  c.p["coil_diameter"] = 2 * reach;
  k.rc = reach - k.ar;
  if (k.rc - k.ar < t) c.infeasible = true;  // the open middle is at least t across
  if (plate) {
    k.z_start = tp + 0.5 * k.az;  // half the wire sunk into the plate
  } else {
    // Ground flat: the cut at the plate leaves a strip the wire stands on; an open end needs a
    // deeper cut for a strip of some length.
    const double g = c.draw("ground", (k.closed_bottom ? 0.3 : 0.5) * k.az,
                            (k.closed_bottom ? 0.7 : 1.0) * k.az);
    k.z_start = k.az - g;
  }
  // Pitch: at least the wire's vertical extent 2 az / cos(helix angle) plus a gap of t (the angle
  // depends on the pitch: a few fixed-point steps settle it), at most a helix angle of 60
  // degrees. The active turns fill the height left by the ends (the top's half wire reserved at
  // that steepest angle).
  double p_min = 2 * k.az + t;
  for (int i = 0; i < 6; ++i) p_min = 2 * k.az * std::hypot(1.0, p_min / (2 * kPi * k.rc)) + t;
  const double p_max = std::max(p_min, 2 * kPi * k.rc * std::tan(60 * kDeg));
  const double ends = k.z_start + 2 * k.az * (k.closed_bottom + k.closed_top) + 2 * k.az + tt;
  const double lowest = std::min(c.S, ends + p_min);
  const double height = wide ? c.num(std::max(lowest, 0.2 * c.S), c.S) : c.S;
  c.p["height"] = height;
  const double room = height - ends;
  if (room < p_min) c.infeasible = true;
  const double n_hi = std::max(1.0, std::min(8.0, room / p_min)),
               n_lo = std::clamp(room / p_max, 1.0, n_hi);
  k.turns = c.draw("turns", n_lo, n_hi);
  k.pitch = std::max(p_min, std::floor(room / k.turns * 100) / 100);
  c.p["pitch"] = k.pitch;
  k.cos_a = 1 / std::hypot(1.0, k.pitch / (2 * kPi * k.rc));
  c.p["gap"] = round2(k.pitch - 2 * k.az / k.cos_a);
  k.phase = c.draw("phase_deg", 0, 360) * kDeg;
  Shape s = field(k, round_box(reach, std::min(0.0, k.z_start - k.az / k.cos_a), k.top()));
  c.count(2 * kPi * k.rc * (k.turns + k.closed_bottom + k.closed_top), 2 * k.ar, 2 * k.az);
  if (plate) {
    s = unite(s, cylinder(2, Vector3d::Zero(), r_all, 0, tp));
    c.count_disc(r_all, 0, tp);
  }
  if (top_plate) {
    // On the flat top end turn, half the wire sunk into it; as wide as the part when there is no
    // base plate (the part is S wide or S high).
    const double r = plate ? c.draw("top_plate_radius", reach, r_all) : r_all;
    c.p["top_plate_radius"] = r;
    const double z = k.centre(k.total()) + 0.5 * k.az;
    s = unite(s, cylinder(2, Vector3d::Zero(), r, z, z + tt));
    c.count_disc(r, 0, tt);
  }
  return s;
}

// A helical rib around a core: a thread (external on a solid or hollow core, or internal in a
// tube; 1-3 starts, a trapezoidal or square profile) or an auger flight (thin and deep on a
// slender shaft), on the plate or on a base flange, optionally a plain length at the top.
Shape thread(Ctx& c) {
  const bool auger = c.choose("form", {{"thread", 0.6}, {"auger", 0.4}}) == "auger";
  // The part is S wide (its widest radius S/2: the flange's or the rib's) or S high.
  const bool wide = c.chance("wide", 0.5);
  const double h = wide ? c.num(0.4 * c.S, c.S) : c.S;
  const double r_all = wide ? c.S / 2 : c.num(0.15 * c.S, 0.5 * c.S);
  c.p["height"] = h;
  // A thread's core is solid (or nearly): 8 pi (r/S)^2 (h/S) k^3 nodes.
  const double k_cap =
      auger ? 1e9 : Ctx::k_cap(8 * kPi * (r_all / c.S) * (r_all / c.S) * (h / c.S), 3);
  const double t = c.thickness(18, 45, k_cap);
  if (r_all < 4 * t) c.infeasible = true;
  const bool flange = c.chance("flange", 0.4);
  const double tf = flange ? c.draw("flange_thickness", t, 2.5 * t) : 0;
  const double reach =
      flange ? round2(r_all - c.draw("flange_margin", t, std::max(t, 0.2 * r_all))) : r_all;
  c.p["outer_radius"] = reach;
  Rib rib;
  rib.internal = !auger && c.chance("internal", 0.3);
  double outer = 0, bore = 0;  // the core's (tube's) radius and its bore
  if (auger) {
    const double core = c.draw("core_radius", std::max(1.5 * t, 0.06 * c.S),
                               std::max(1.5 * t, std::min(0.2 * c.S, 0.4 * reach)));
    rib.root = core, outer = core;
    rib.depth = round2(reach - core);
    if (rib.depth < std::max(t, 0.5 * core)) c.infeasible = true;
    rib.w_root = c.draw("rib_width", t, 2 * t);
    if (core - 1.5 * t >= 0.5 * t && c.rng.chance(0.2)) bore = c.num(0.5 * t, core - 1.5 * t);
  } else if (!rib.internal) {
    rib.depth = c.num(t, std::max(t, std::min(4 * t, 0.3 * reach)));
    rib.root = outer = round2(reach - rib.depth);
    rib.w_root = c.draw("rib_width", t, 3 * t);
    if (outer - 1.5 * t >= 0.5 * t && c.rng.chance(0.3)) bore = c.num(0.5 * t, outer - 1.5 * t);
  } else {
    outer = reach;
    bore = c.num(std::max(2 * t, 0.4 * outer), outer - 1.5 * t);
    rib.root = bore;
    rib.depth = c.num(t, std::max(t, std::min(4 * t, 0.3 * bore)));
    rib.w_root = c.draw("rib_width", t, 3 * t);
  }
  c.p["rib_depth"] = rib.depth;
  c.p["core_radius"] = outer;
  c.p["bore_radius"] = bore;
  c.p["root_radius"] = rib.root;
  rib.w_tip = c.rng.chance(0.6) ? c.num(t, rib.w_root) : rib.w_root;
  c.p["rib_tip_width"] = rib.w_tip;
  rib.sink = std::min(t, 0.5 * (outer - bore));  // into the wall the rib grows from
  const double u = c.rng.uniform();
  const int starts = u < (auger ? 0.8 : 0.7) ? 1 : u < (auger ? 1.0 : 0.9) ? 2 : 3;
  c.p["starts"] = starts;
  // Spacing: the widest axial section (at the smallest radius, where the rib is steepest) plus
  // a gap of t; the lead depends on the spacing, a few fixed-point steps settle it.
  const double r_small = rib.internal ? rib.root - rib.depth : rib.root,
               r_big = rib.internal ? rib.root : rib.root + rib.depth;
  auto needed = [&](double s) {
    rib.lead = starts * s;
    return std::max(rib.axial(r_small), rib.axial(r_big)) + t;
  };
  double s_min = rib.w_root + t;
  for (int i = 0; i < 8; ++i) s_min = needed(s_min);
  rib.spacing = auger
                    ? c.draw("rib_spacing", std::max(s_min, 0.15 * c.S), std::max(s_min, 0.5 * c.S))
                    : c.draw("rib_spacing", s_min, s_min + 4 * t);
  if (needed(rib.spacing) > rib.spacing + 1e-9)
    c.infeasible = true;  // too steep: the ribs would touch
  rib.lead = starts * rib.spacing;
  c.p["lead"] = round2(rib.lead);
  rib.phase = c.draw("phase_deg", 0, 360) * kDeg;
  rib.z_lo = tf;
  rib.z_hi = h - (c.rng.chance(0.3) ? c.num(t, std::max(t, 0.25 * h)) : 0);
  c.p["plain_top"] = round2(h - rib.z_hi);
  if (rib.z_hi - rib.z_lo < 2 * t) c.infeasible = true;

  // The rib on the core or tube, its bore cut first (an internal rib lies in it).
  Shape s = unite(annulus(outer, bore, 0, h), field(rib, round_box(reach, rib.z_lo, rib.z_hi)));
  c.count_disc(outer, bore, h);
  const double r_mid = rib.root + (rib.internal ? -0.5 : 0.5) * rib.depth;
  c.count((rib.z_hi - rib.z_lo) / rib.spacing * 2 * kPi * r_mid, rib.depth,
          0.5 * (rib.w_root + rib.w_tip));
  if (flange) {
    s = unite(s, annulus(r_all, bore, 0, tf));
    c.count_disc(r_all, bore, tf);
  }
  return s;
}

}  // namespace flare::am::pattern
