// Circular patterns of the `pattern` family (am/part_pattern.h): holes, kidney slots, bosses or
// rim notches on a flange, toothed discs and rings (lying flat or standing on edge), and
// castellated tubes. Every repeated element is one shape folded around the axis (ring_of).
#include <algorithm>
#include <cmath>

#include "am/part_pattern_detail.h"

namespace flare::am::pattern {

using Eigen::AlignedBox3d;
using Eigen::Vector3d;

namespace {

// The most copies of an element of half-width `half` (across the circle) on a circle of radius
// rc that keep a gap of t between neighbours.
int most_on_circle(double rc, double half, double t, int cap) {
  const double s = (2 * half + t) / (2 * rc);
  return s >= 1 ? 0 : std::min(cap, int(std::floor(kPi / std::asin(s))));
}

// The fraction of the tooth's height at f, the position in one tooth pitch (-0.5..0.5).
double tooth(const std::string& form, double duty, double tip, double f) {
  const double a = std::abs(f);
  if (form == "spline") return a <= duty / 2 ? 1 : 0;
  if (form == "scallop") return a < duty / 2 ? std::sqrt(1 - (2 * a / duty) * (2 * a / duty)) : 0;
  if (a <= tip / 2) return 1;  // gear: flat tip, straight flanks to the root
  return a >= duty / 2 ? 0 : (duty / 2 - a) / (duty / 2 - tip / 2);
}

}  // namespace

// A plate ring (or disc) with a circular pattern: holes (a bolt circle), kidney slots, bosses
// (optionally with holes) or notches open at the rim; optionally a neck standing in the middle.
Shape flange(Ctx& c) {
  const double t = c.thickness(20, 45, Ctx::k_cap(3 * kPi, 2)), R = c.S / 2;  // the plate
  const double th = c.draw("thickness", t, std::max(t, std::min(6 * t, 0.2 * c.S)));
  const double ri = c.rng.chance(0.6) ? c.num(std::max(t, 0.1 * R), std::max(t, 0.5 * R)) : 0;
  c.p["inner_radius"] = ri;
  double rn = 0;
  Shape s = annulus(R, ri, 0, th);
  c.count_disc(R, ri, th);
  if (c.chance("neck", 0.4)) {
    rn = c.draw("neck_radius", ri > 0 ? ri + t : std::max(2 * t, 0.15 * R),
                std::max(ri + t, 0.5 * R));
    const double hn = c.draw("neck_height", th + t, std::max(th + t, 0.8 * c.S));
    s = unite(s, annulus(rn, ri, 0, hn));
    c.count_disc(rn, ri, hn - th);
  }
  const double r_lo = std::max(ri, rn) + t, room = R - t - r_lo;  // radial room for the elements
  if (room < t) c.infeasible = true;
  const double phase = c.draw("phase_deg", 0, 360) * kDeg;
  const std::string element =
      c.choose("element", {{"holes", 0.4}, {"slots", 0.2}, {"bosses", 0.2}, {"notches", 0.2}});
  if (element == "holes") {
    const double r =
        c.draw("hole_radius", 0.5 * t, std::max(0.5 * t, std::min(0.5 * room, 0.15 * R)));
    const double rc = c.draw("circle_radius", r_lo + r, R - t - r);
    const int n = c.draw_int("count", 3, std::max(3, most_on_circle(rc, r, t, 24)));
    s = subtract(s, bolt_circle(n, rc, r, phase, th + 1));
  } else if (element == "slots") {
    // Kidney slots: arcs of the circle rc, half-angle b, thickened by w (round ends).
    const double w =
        c.draw("slot_half_width", 0.5 * t, std::max(0.5 * t, std::min(0.5 * room, 0.1 * R)));
    const double rc = c.draw("circle_radius", r_lo + w, R - t - w);
    const int n = c.draw_int("count", 2, 8);
    const double b_max = kPi / n - (w + 0.5 * t) / rc;
    if (b_max < 0.05) c.infeasible = true;
    const double b = c.draw("slot_half_angle_deg", 0.2 * b_max / kDeg, 0.9 * b_max / kDeg) * kDeg;
    Shape slot = field(
        [rc, w, b, th](const Vector3d& q) {
          const double a = std::clamp(std::atan2(q.y(), q.x()), -b, b);
          const double d = std::hypot(q.x() - rc * std::cos(a), q.y() - rc * std::sin(a)) - w;
          return std::max({d, -1 - q.z(), q.z() - th - 1});
        },
        AlignedBox3d(Vector3d(0, -rc - w, -1), Vector3d(rc + w, rc + w, th + 1)));
    s = subtract(s, ring_of(slot, n, phase));
  } else if (element == "bosses") {
    const double rb = c.draw("boss_radius", t, std::max(t, std::min(0.5 * (R - r_lo), 0.12 * R)));
    const double rc = c.draw("circle_radius", r_lo + rb, R - rb);
    const double hb = c.draw("boss_height", t, std::max(t, 0.3 * c.S));
    const int n = c.draw_int("count", 3, std::max(3, most_on_circle(rc, rb, t, 24)));
    s = unite(s, ring_of(cylinder(2, Vector3d(rc, 0, 0), rb, 0.5 * th, th + hb), n, phase));
    c.count_disc(rb, 0, hb, n);
    if (rb >= 1.5 * t && c.chance("boss_holes", 0.6)) {
      const double r = c.draw("hole_radius", 0.5 * t, rb - t);
      s = subtract(s, bolt_circle(n, rc, r, phase, th + hb + 1));
    }
  } else {
    // Notches open at the rim (a slotted ring): the teeth between them are at least t wide at
    // the notches' bottom.
    const double depth = c.draw("notch_depth", t, std::max(t, R - r_lo));
    const double w = c.draw("notch_width", t, std::max(t, std::min(0.3 * R, 4 * t)));
    const int n = c.draw_int("count", 3, std::max(3, most_on_circle(R - depth, 0.5 * w, t, 24)));
    s = subtract(
        s, ring_of(box(Vector3d(R - depth, -w / 2, -1), Vector3d(R + 1, w / 2, th + 1)), n, phase));
  }
  return s;
}

// A disc or ring with teeth on its rim (gear teeth, splines or scallops), lying flat (then
// optionally internal splines in the bore, a hub and holes in the web) or standing on edge.
Shape toothed(Ctx& c) {
  const bool upright = c.choose("orientation", {{"flat", 0.6}, {"upright", 0.4}}) == "upright";
  const double t =
      c.thickness(20, 45, Ctx::k_cap((upright ? 5 : 3) * kPi, 2));  // the disc, 2 t thick upright
  const std::string form = c.choose("teeth", {{"gear", 0.4}, {"spline", 0.3}, {"scallop", 0.3}});
  const double th = upright ? c.draw("thickness", std::max(2 * t, 0.06 * c.S),
                                     std::max(2 * t, std::min(0.3 * c.S, 8 * t)))
                            : c.draw("thickness", t, std::max(t, std::min(5 * t, 0.25 * c.S)));
  // Upright, the disc is turned about z: its footprint, 2R by th, fits S turned.
  const double turn_z = upright ? draw_turn(c) : 0;
  const double co = std::abs(std::cos(turn_z)), si = std::abs(std::sin(turn_z));
  double diameter = c.S;
  if (co > 1e-9) diameter = std::min(diameter, (c.S - th * si) / co);
  if (si > 1e-9) diameter = std::min(diameter, (c.S - th * co) / si);
  const double R = floor2(diameter / 2);
  c.p["tip_radius"] = R;
  const double depth = c.draw("tooth_depth", t, std::max(t, (form == "gear" ? 0.15 : 0.1) * R));
  const double root = R - depth;
  const double duty =
      c.draw("tooth_duty", form == "scallop" ? 0.5 : 0.4, form == "scallop" ? 0.9 : 0.6);
  const double tip = form == "gear" ? c.draw("tooth_tip", 0.3 * duty, 0.7 * duty) : duty;
  // Teeth at least t wide (a gear's tip, half a scallop's width) with gaps of t at the root.
  const double narrow = form == "gear" ? tip : form == "scallop" ? 0.5 * duty : duty;
  const int most =
      std::min({60, int(2 * kPi * R * narrow / t), int(2 * kPi * root * (1 - duty) / t)});
  if (most < 5) c.infeasible = true;
  const int n = c.draw_int("count", 5, std::max(5, most));
  const double phase = c.draw("phase_deg", 0, 360) * kDeg;
  // Upright: the disc stands on a flat cut through its root circle, a t and more below the teeth.
  const double drop =
      upright ? c.draw("drop", depth + t, std::max(depth + t, depth + 0.15 * R)) : 0;
  const double centre = R - drop;  // the axis' height when upright
  bool inner_teeth = !upright && c.chance("inner_teeth", 0.25);
  double bore = 0, inner_depth = 0, inner_duty = 0;
  int inner_n = 0;
  if (inner_teeth) {
    bore = c.draw("bore_radius", std::max(3 * t, 0.2 * R), std::max(3 * t, 0.5 * root));
    inner_depth = c.draw("inner_tooth_depth", t, std::max(t, std::min(0.25 * bore, 3 * t)));
    inner_duty = c.draw("inner_tooth_duty", 0.35, 0.6);
    const int most_in = std::min({36, int(2 * kPi * (bore - inner_depth) * inner_duty / t),
                                  int(2 * kPi * bore * (1 - inner_duty) / t)});
    if (most_in < 4) c.infeasible = true;
    inner_n = c.draw_int("inner_count", 4, std::max(4, most_in));
  } else if (c.rng.chance(0.6)) {
    bore = c.num(0.5 * t, std::max(0.5 * t, std::min(0.4 * root, upright ? centre - 2 * t : root)));
  }
  c.p["bore_radius"] = bore;
  if (root - bore < 3 * t) c.infeasible = true;
  const double z0 = upright ? -th / 2 : 0;
  Shape s = field(
      [=](const Vector3d& q) {
        const double r = std::hypot(q.x(), q.y()), a = std::atan2(q.y(), q.x()) - phase;
        const double f = wrap(a, 2 * kPi / n) / (2 * kPi / n);
        double d = r - (root + depth * tooth(form, duty, tip, f));
        if (inner_teeth) {
          const double fi = wrap(a, 2 * kPi / inner_n) / (2 * kPi / inner_n);
          d = std::max(d, bore - inner_depth * tooth("spline", inner_duty, inner_duty, fi) - r);
        } else if (bore > 0) {
          d = std::max(d, bore - r);
        }
        return std::max({d, z0 - q.z(), q.z() - z0 - th});
      },
      round_box(R, z0, z0 + th));
  c.count_disc(root + 0.5 * depth, bore, th);
  if (!upright) {
    double r_hub = 0;
    if (c.chance("hub", 0.3)) {
      r_hub = c.draw("hub_radius", bore + 1.5 * t, std::max(bore + 1.5 * t, 0.45 * root));
      const double hh = c.draw("hub_height", th + t, th + std::max(t, 0.3 * c.S));
      s = unite(s, annulus(r_hub, bore, 0, hh));
      c.count_disc(r_hub, bore, hh - th);
    }
    // Holes in the web between the hub (or bore) and the root circle.
    const double lo = std::max(r_hub, bore) + t, hi = root - t;
    if (hi - lo >= 3 * t && c.chance("web_holes", 0.35)) {
      const double r =
          c.draw("web_hole_radius", 0.5 * t, std::max(0.5 * t, std::min(0.5 * (hi - lo), 0.2 * R)));
      const double rc = round2((lo + hi) / 2);
      const int m = c.draw_int("web_hole_count", 3, std::max(3, most_on_circle(rc, r, t, 8)));
      s = subtract(s, bolt_circle(m, rc, r, phase + kPi / n, th + 1));
    }
    return s;
  }
  s = translate(rotate(s, Vector3d::UnitX(), kPi / 2, Vector3d::Zero()), Vector3d(0, 0, centre));
  return turn(s, turn_z);
}

// A tube standing on the plate with notches in its top rim (castellations, a slotted crown),
// optionally a floor, a foot flange and a ring of radial holes through its wall.
Shape castellated(Ctx& c) {
  const double t = c.thickness(20, 45);
  // The part is S wide (its widest radius S/2: the flange's or the tube's) or S high.
  const bool wide = c.chance("wide", 0.5);
  const double r_all =
      wide ? c.S / 2 : c.num(std::max(4 * t, 0.2 * c.S), std::max(4 * t, 0.5 * c.S));
  const double h = wide ? c.num(std::max(6 * t, 0.3 * c.S), std::max(6 * t, c.S)) : c.S;
  c.p["height"] = h;
  const bool flange = c.chance("flange", 0.3);
  const double ro =
      flange ? round2(r_all - c.draw("flange_margin", t, std::max(t, 0.2 * r_all))) : r_all;
  c.p["outer_radius"] = ro;
  const double w = c.draw("wall", t, std::max(t, std::min(3 * t, 0.5 * ro)));
  const double ri = ro - w;
  Shape s = annulus(ro, ri, 0, h);
  c.count_disc(ro, ri, h);
  double base = 0;  // top of the floor or flange: the radial holes stay above it
  if (c.chance("floor", 0.5)) {
    base = c.draw("floor_thickness", t, 2 * t);
    s = unite(s, cylinder(2, Vector3d::Zero(), ri + 0.5 * w, 0, base));
    c.count_disc(ri, 0, base);
  }
  if (flange) {
    const double tf = c.draw("flange_thickness", t, 2 * t);
    s = unite(s, annulus(r_all, ri + 0.5 * w, 0, tf));
    c.count_disc(r_all, ro, tf);
    base = std::max(base, tf);
  }
  const double depth = c.draw("notch_depth", t, std::max(t, 0.5 * h));
  // Merlons at least t wide at the inner radius, notches at least t wide.
  const int n = c.draw_int("notches", 2, std::max(2, std::min(16, int(2 * kPi * ri / (2 * t)))));
  const double wn = c.draw("notch_width", t, std::max(t, std::min(2 * kPi * ri / n - t, 0.5 * ri)));
  if (2 * kPi * ri / n - wn < t - 1e-9 || ri < 2 * t) c.infeasible = true;
  const double phase = c.draw("phase_deg", 0, 360) * kDeg;
  const bool round_bottom = c.rng.chance(0.3) && depth >= wn;  // a U-shaped notch needs the depth
  c.p["round_bottom"] = round_bottom;
  // The cut starts inside the bore, where the notch's sector holds no material.
  Shape notch = box(Vector3d(0.5 * ri, -wn / 2, h - depth + (round_bottom ? wn / 2 : 0)),
                    Vector3d(ro + 1, wn / 2, h + 1));
  if (round_bottom)
    notch = unite(notch, cylinder(0, Vector3d(0, 0, h - depth + wn / 2), wn / 2, 0.5 * ri, ro + 1));
  s = subtract(s, ring_of(notch, n, phase));
  const double zl = base + t, zh = h - depth - t;  // the wall's band below the notches
  if (zh - zl >= 2 * t && c.chance("radial_holes", 0.4)) {
    const double r = c.draw("radial_hole_radius", 0.5 * t,
                            std::max(0.5 * t, std::min(0.5 * (zh - zl), 2.5 * t)));
    const double z = c.draw("radial_hole_z", zl + r, zh - r);
    const int m = c.draw_int("radial_holes_count", 2, std::max(2, most_on_circle(ri, r, t, 16)));
    s = subtract(s,
                 ring_of(cylinder(0, Vector3d(0, 0, z), r, 0.5 * ri, ro + 1), m, phase + kPi / n));
  }
  return s;
}

}  // namespace flare::am::pattern
