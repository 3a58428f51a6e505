// Features of the `csg` family (am/part_csg.h): each builder draws its sizes from the face it is
// given and the part's minimum thickness t, takes a free spot on the face, adds its shapes to the
// cuts, adds or holes, records its parameters and returns false when it does not fit.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numbers>
#include <string_view>

#include "am/part_csg_detail.h"

namespace flare::am::csg {

using Eigen::AlignedBox2d;
using Eigen::AlignedBox3d;
using Eigen::Isometry3d;
using Eigen::Vector2d;
using Eigen::Vector3d;
using nlohmann::json;

Isometry3d face_frame(const Vector3d& o, const Vector3d& u, const Vector3d& n) {
  Isometry3d f = Isometry3d::Identity();
  f.linear().col(0) = u;
  f.linear().col(1) = n.cross(u);
  f.linear().col(2) = n;
  f.translation() = o;
  return f;
}

Shape on_face(const Face& f, const Shape& local) { return transform(local, f.frame); }

bool Ctx::place(Face& f, double hu, double hv, double margin, Vector2d& centre, double v) {
  const bool fixed_v = !std::isnan(v);
  const double u0 = margin + hu, u1 = f.lu - margin - hu;
  const double v0 = fixed_v ? v : margin + hv, v1 = fixed_v ? v : f.lv - margin - hv;
  if (u1 < u0 || v1 < v0) return false;
  const Vector2d half(hu + margin / 2, hv + margin / 2);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const Vector2d c(num(u0, u1), fixed_v ? v : num(v0, v1));
    const AlignedBox2d r(c - half, c + half);
    if (std::none_of(f.used.begin(), f.used.end(),
                     [&](const AlignedBox2d& b) { return b.intersects(r); })) {
      f.used.push_back(r);
      centre = c;
      return true;
    }
  }
  return false;
}

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180;

// Half-extents of the bounding rectangle of a (hu, hv) rectangle turned by phi (radians).
Vector2d turned_half(double hu, double hv, double phi) {
  const double c = std::abs(std::cos(phi)), s = std::abs(std::sin(phi));
  return {hu * c + hv * s, hu * s + hv * c};
}

std::vector<Vector2d> rect_polygon(double hu, double hv) {
  return {{-hu, -hv}, {hu, -hv}, {hu, hv}, {-hu, hv}};
}

std::vector<Vector2d> regular_polygon(double r, int n, double phi) {
  std::vector<Vector2d> p;
  for (int i = 0; i < n; ++i)
    p.emplace_back(r * std::cos(phi + 2 * kPi * i / n), r * std::sin(phi + 2 * kPi * i / n));
  return p;
}

// Segment a-b thickened by r: round ends (a slot) or square ends reaching r past a and b.
std::vector<Vector2d> stroke_polygon(const Vector2d& a, const Vector2d& b, double r, bool round) {
  const Vector2d d = (b - a).normalized(), n(-d.y(), d.x());
  if (!round) return {a - r * d - r * n, b + r * d - r * n, b + r * d + r * n, a - r * d + r * n};
  std::vector<Vector2d> p;
  const int arc = 8;
  for (int i = 0; i <= arc; ++i) {  // around b from -n over +d to +n
    const double s = kPi * i / arc;
    p.push_back(b + r * (-std::cos(s) * n + std::sin(s) * d));
  }
  for (int i = 0; i <= arc; ++i) {  // around a from +n over -d to -n
    const double s = kPi * i / arc;
    p.push_back(a + r * (std::cos(s) * n - std::sin(s) * d));
  }
  return p;
}

// In the face plane: turn by phi about the local z axis, then move to (u, v, w).
Isometry3d local_pose(double u, double v, double w, double phi) {
  return Eigen::Translation3d(u, v, w) * Eigen::AngleAxisd(phi, Vector3d::UnitZ());
}

Shape placed(const Face& f, const Shape& local, const Vector2d& at, double phi) {
  return on_face(f, transform(local, local_pose(at.x(), at.y(), 0, phi)));
}

double span(const Face& f) { return std::min(f.lu, f.lv); }

// ---- holes ------------------------------------------------------------------------------------

bool hole(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  const double rmax = std::min(0.25 * span(f), 0.12 * c.S);
  if (rmax < 0.5 * c.t || f.depth < c.t) return false;
  const double r = c.num(0.5 * c.t, rmax);
  const bool through = f.depth < 2.5 * c.t || c.rng.chance(0.7);
  const int count = c.rng.chance(0.6) ? 1 : c.rng.integer(2, 4);
  const double pitch = count > 1 ? c.num(2 * r + c.t, 4 * r + 2 * c.t) : 0;
  double bore_r = 0, bore_depth = 0, sink = 0;
  const double finish = c.rng.uniform();
  if (through && finish < 0.2 && f.depth >= 3 * c.t) {
    bore_r = c.num(r + 0.5 * c.t, 1.5 * r + c.t);
    bore_depth = c.num(c.t, 0.5 * f.depth);
  } else if (through && finish < 0.4) {
    sink = std::min(c.num(0.3 * r, 0.8 * r), round2(f.depth / 3));
  }
  const double rr = std::max(bore_r, r + sink);
  Vector2d at;
  if (!c.place(f, (count - 1) * pitch / 2 + rr, rr, c.t, at)) return false;
  double tilt = 0;
  if (through && count == 1 && bore_r == 0 && sink == 0 && c.rng.chance(0.3)) {
    tilt = c.num(10, 30);  // about the face's v axis: the exit moves towards -u
    if (at.x() - (f.depth + c.t) * std::tan(tilt * kDeg) < r + c.t) tilt = 0;
  }
  const double depth =
      through ? f.depth + c.t
              : c.num(std::max(c.t, 0.3 * f.depth), std::min(0.8 * f.depth, f.depth - c.t));
  const double e = c.t, tn = std::tan(tilt * kDeg);
  for (int i = 0; i < count; ++i) {
    const double u = at.x() - (count - 1) * pitch / 2 + i * pitch, v = at.y();
    c.holes.push_back(frustum(f.at(u + e * tn, v, e), f.at(u - depth * tn, v, -depth), r, r));
    if (bore_r > 0)
      c.holes.push_back(frustum(f.at(u, v, e), f.at(u, v, -bore_depth), bore_r, bore_r));
    if (sink > 0)
      c.holes.push_back(frustum(f.at(u, v, e), f.at(u, v, -sink), r + sink + e, r));  // 45 degrees
  }
  j.update({{"at", {at.x(), at.y()}},
            {"radius", r},
            {"count", count},
            {"pitch", pitch},
            {"through", through},
            {"depth", depth},
            {"tilt_deg", tilt},
            {"counterbore_radius", bore_r},
            {"counterbore_depth", bore_depth},
            {"countersink", sink}});
  return true;
}

// ---- pockets and slots ------------------------------------------------------------------------

bool pocket(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  if (f.depth < 2.5 * c.t) return false;
  const double k = c.rng.uniform();
  const std::string_view kind = k < 0.4 ? "rect" : k < 0.6 ? "round" : k < 0.8 ? "slot" : "polygon";
  const double phi = kind != "round" && c.rng.chance(0.4) ? c.num(0, 180) * kDeg : 0;
  double a = 0, b = 0;  // half length and half width (radius for round and polygon)
  if (kind == "rect") {
    a = c.num(c.t, 0.35 * f.lu), b = c.num(c.t, 0.35 * f.lv);
  } else if (kind == "slot") {
    b = c.num(0.5 * c.t, std::min(1.5 * c.t, 0.2 * span(f)));
    a = c.num(b + c.t, std::max(b + c.t, 0.4 * f.lu));
  } else {
    a = b = c.num(c.t, 0.3 * span(f));
  }
  const bool through = kind == "slot" && c.rng.chance(0.3);
  const double depth = through ? f.depth + c.t : c.num(c.t, std::min(0.6 * f.depth, f.depth - c.t));
  const Vector2d half = turned_half(a, b, phi);
  Vector2d at;
  if (!c.place(f, half.x(), half.y(), c.t, at)) return false;
  std::vector<Vector2d> outline;
  int sides = 0;
  if (kind == "rect") outline = rect_polygon(a, b);
  if (kind == "slot") outline = stroke_polygon(Vector2d(b - a, 0), Vector2d(a - b, 0), b, true);
  if (kind == "polygon") outline = regular_polygon(a, sides = c.rng.integer(3, 8), 0);
  Shape local = kind == "round" ? frustum(Vector3d(0, 0, c.t), Vector3d(0, 0, -depth), a, a)
                                : extruded_polygon(outline, -depth, c.t);
  (through ? c.holes : c.cuts).push_back(placed(f, local, at, phi));
  j.update({{"kind", std::string(kind)},
            {"at", {at.x(), at.y()}},
            {"half_length", a},
            {"half_width", b},
            {"angle_deg", round2(phi / kDeg)},
            {"depth", depth},
            {"through", through}});
  if (sides) j["sides"] = sides;
  return true;
}

// ---- bosses -----------------------------------------------------------------------------------

bool boss(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  const double rmax = std::min(0.25 * span(f), 0.15 * c.S);
  if (rmax < c.t || f.room < c.t) return false;
  const double k = c.rng.uniform();
  const std::string_view kind = k < 0.4 ? "cylinder" : k < 0.6 ? "cone" : k < 0.8 ? "prism" : "box";
  const double r = c.num(c.t, rmax), h = c.num(c.t, std::min(f.room, (f.up ? 0.35 : 0.2) * c.S));
  const double e = std::min(c.t, 0.5 * f.depth);  // sunk into the face so the union is solid
  const double phi =
      (kind == "prism" || kind == "box") && c.rng.chance(0.5) ? c.num(0, 180) * kDeg : 0;
  const double b = kind == "box" ? c.num(c.t, rmax) : r;
  const double tilt = f.up && (kind == "cylinder" || kind == "cone") && c.rng.chance(0.25)
                          ? c.num(10, 35) * (c.rng.chance(0.5) ? 1 : -1)
                          : 0;
  const double top_r = kind == "cone" ? c.num(0.5 * r, r) : r;
  const int sides = kind == "prism" ? c.rng.integer(5, 8) : 0;
  const double cc = std::min({c.chamfer, 0.3 * std::min(r, b), 0.3 * h});
  const Vector2d half = turned_half(r, b, phi);
  Vector2d at;
  if (!c.place(f, half.x(), half.y(), 0.5 * c.t, at)) return false;
  Shape local;
  if (kind == "cylinder") {
    local = frustum(Vector3d(0, 0, -e), Vector3d(0, 0, h - cc), r, r);
    if (cc > 0) local = unite(local, frustum(Vector3d(0, 0, h - cc), Vector3d(0, 0, h), r, r - cc));
  } else if (kind == "cone") {
    local = frustum(Vector3d(0, 0, -e), Vector3d(0, 0, h), r, top_r);
  } else if (kind == "prism") {
    local = extruded_polygon(regular_polygon(r, sides, 0), -e, h);
  } else {
    local = chamfered_box(Vector3d(-r, -b, -e), Vector3d(r, b, h), cc);
  }
  if (tilt != 0) local = rotate(local, Vector3d::UnitX(), tilt * kDeg, Vector3d::Zero());
  c.adds.push_back(placed(f, local, at, phi));
  j.update({{"kind", std::string(kind)},
            {"at", {at.x(), at.y()}},
            {"radius", r},
            {"height", h},
            {"tilt_deg", tilt},
            {"angle_deg", round2(phi / kDeg)},
            {"chamfer", cc}});
  if (kind == "cone") j["top_radius"] = top_r;
  if (kind == "box") j["half_width"] = b;
  if (sides) j["sides"] = sides;
  // The top of an upright boss is a face for later holes (counterbored bosses) and text.
  const double inner = kind == "cone"    ? top_r
                       : kind == "prism" ? r * std::cos(kPi / sides)
                       : kind == "box"   ? std::min(r, b)
                                         : r - cc;
  const double q = inner / std::sqrt(2.0);
  if (tilt == 0 && 2 * q >= 3 * c.t) {
    Face top;
    top.name = "boss" + std::to_string(c.features.size()) + "_top";
    top.frame = f.frame * Eigen::Translation3d(at.x() - q, at.y() - q, h);
    top.lu = top.lv = 2 * q;
    top.depth = h + f.depth;
    top.room = std::max(0.0, f.room - h);
    top.up = f.up;
    c.faces.push_back(top);  // invalidates f: last use above
  }
  return true;
}

// ---- ribs and thin walls ----------------------------------------------------------------------

bool rib(Ctx& c, std::size_t fi, json& j, bool tall) {
  Face& f = c.faces[fi];
  if (!f.up || f.room < (tall ? 0.2 * c.S : c.t)) return false;
  const double h = tall ? c.num(0.2 * c.S, std::min(f.room, 0.6 * c.S))
                        : c.num(c.t, std::min(f.room, 0.3 * c.S));
  const double tr = tall ? c.num(c.t, 1.2 * c.t) : c.num(c.t, 1.4 * c.t);
  const int count = tall ? 1 : c.rng.integer(1, 3);
  const double pitch = count > 1 ? c.num(tr + 2 * c.t, tr + 6 * c.t) : 0;
  const double dir = c.rng.chance(0.7) ? (c.rng.chance(0.5) ? 0 : 90) : c.num(0, 180);
  const double reach = dir == 0 ? f.lu : dir == 90 ? f.lv : span(f);
  const double len = c.num(std::max(3 * c.t, 0.3 * reach), 0.9 * reach);
  const bool tapered = !tall && c.rng.chance(0.4);
  const double e = std::min(c.t, 0.5 * f.depth);
  const Vector2d half = turned_half(len / 2, ((count - 1) * pitch + tr) / 2, dir * kDeg);
  Vector2d at;
  if (!c.place(f, half.x(), half.y(), 0.5 * c.t, at)) return false;
  for (int i = 0; i < count; ++i) {
    const double y = -(count - 1) * pitch / 2 + i * pitch;
    Shape local =
        tapered ? translate(wedge(Vector3d(len, tr, h + e)), Vector3d(-len / 2, y - tr / 2, -e))
                : box(Vector3d(-len / 2, y - tr / 2, -e), Vector3d(len / 2, y + tr / 2, h));
    c.adds.push_back(placed(f, local, at, dir * kDeg));
  }
  j.update({{"at", {at.x(), at.y()}},
            {"length", len},
            {"thickness", tr},
            {"height", h},
            {"count", count},
            {"pitch", pitch},
            {"angle_deg", dir},
            {"tapered", tapered}});
  return true;
}

// ---- ledges (overhangs) on side faces ---------------------------------------------------------

bool ledge(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  if (f.up || f.lv < 3 * c.t || f.depth < c.t || f.room < 2 * c.t) return false;
  const double out = c.num(2 * c.t, std::min(f.room, 0.25 * c.S)), tl = c.num(c.t, 2 * c.t);
  const double w = c.num(std::max(2 * c.t, 0.3 * f.lu), 0.9 * f.lu);
  const double vb = c.rng.chance(0.5) ? f.lv - tl : c.num(0.3 * f.lv, f.lv - tl - c.t);
  const bool support = vb > 2 * c.t && c.rng.chance(0.35);
  const double hs = support ? c.num(c.t, std::min(out, vb - c.t)) : 0;
  const double gusset = support && c.rng.chance(0.5) ? c.num(c.t, 1.5 * c.t) : w;
  const double tilt = !support && c.rng.chance(0.25) ? c.num(-35, 35) : 0;
  const double e = std::min(c.t, 0.5 * f.depth);
  Vector2d at;
  // The footprint spans [vb - hs, vb + tl] in v.
  if (!c.place(f, w / 2, (tl + hs) / 2, c.t, at, vb + (tl - hs) / 2)) return false;
  Shape plate = box(Vector3d(at.x() - w / 2, vb, -e), Vector3d(at.x() + w / 2, vb + tl, out));
  if (tilt != 0)
    plate = rotate(plate, Vector3d::UnitX(), tilt * kDeg, Vector3d(at.x(), vb + tl / 2, 0));
  c.adds.push_back(on_face(f, plate));
  if (support) {
    // Wedge x outwards along the normal, z downwards from the ledge, y along -u: full height at
    // the wall, nothing at the ledge's edge.
    Isometry3d pose = Isometry3d::Identity();
    pose.linear() << 0, -1, 0, 0, 0, -1, 1, 0, 0;
    pose.translation() = Vector3d(at.x() + gusset / 2, vb, 0);
    c.adds.push_back(on_face(f, transform(wedge(Vector3d(out, gusset, hs)), pose)));
  }
  j.update({{"at_u", at.x()},
            {"bottom_v", vb},
            {"width", w},
            {"out", out},
            {"thickness", tl},
            {"tilt_deg", tilt},
            {"support_height", hs},
            {"support_width", support ? gusset : 0.0}});
  return true;
}

// ---- bridges and arches on up faces -----------------------------------------------------------

bool bridge(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  if (!f.up || f.room < 3 * c.t) return false;
  const double dir = c.rng.chance(0.7) ? (c.rng.chance(0.5) ? 0 : 90) : c.num(0, 180);
  const double reach = dir == 0    ? f.lu
                       : dir == 90 ? f.lv
                                   : span(f),
               across = dir == 0    ? f.lv
                        : dir == 90 ? f.lu
                                    : span(f);
  const double L = c.num(std::max(5 * c.t, 0.3 * reach), 0.8 * reach);
  const double W = c.num(1.5 * c.t, std::max(1.5 * c.t, std::min(0.3 * across, 0.15 * c.S)));
  const double hc = c.num(c.t, std::min(f.room - 2 * c.t, 0.25 * c.S)), td = c.num(c.t, 1.5 * c.t);
  const double pw = c.num(c.t, std::max(c.t, 0.2 * L));
  const bool arch = c.rng.chance(0.5);
  const double e = std::min(c.t, 0.5 * f.depth);
  const Vector2d half = turned_half(L / 2, W / 2, dir * kDeg);
  Vector2d at;
  if (!c.place(f, half.x(), half.y(), 0.5 * c.t, at)) return false;
  Shape local;
  if (arch) {
    local = subtract(box(Vector3d(-L / 2, -W / 2, -e), Vector3d(L / 2, W / 2, hc + td)),
                     elliptic_cylinder_y(0, 0, L / 2 - pw, hc, -W / 2 - 1, W / 2 + 1));
  } else {
    local = unite(box(Vector3d(-L / 2, -W / 2, hc), Vector3d(L / 2, W / 2, hc + td)),
                  unite(box(Vector3d(-L / 2, -W / 2, -e), Vector3d(-L / 2 + pw, W / 2, hc + td)),
                        box(Vector3d(L / 2 - pw, -W / 2, -e), Vector3d(L / 2, W / 2, hc + td))));
  }
  c.adds.push_back(placed(f, local, at, dir * kDeg));
  j.update({{"at", {at.x(), at.y()}},
            {"span", L},
            {"width", W},
            {"clearance", hc},
            {"deck", td},
            {"pillar", pw},
            {"arch", arch},
            {"angle_deg", dir}});
  return true;
}

// ---- spheres: domes, balls on stems, dimples --------------------------------------------------

bool spherical(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  const double k = c.rng.uniform();
  const std::string_view kind = !f.up ? "dimple" : k < 0.4 ? "dome" : k < 0.7 ? "ball" : "dimple";
  const double e = std::min(c.t, 0.5 * f.depth);
  const double rmax = std::min(0.25 * span(f), 0.15 * c.S);
  if (rmax < c.t) return false;
  Vector2d at;
  if (kind == "dimple") {
    if (f.depth < 2.5 * c.t) return false;
    const double R = c.num(c.t, std::min(rmax, f.depth - c.t)), zc = c.num(0.2 * R, 0.7 * R);
    if (!c.place(f, R, R, c.t, at)) return false;
    c.cuts.push_back(on_face(f, sphere(Vector3d(at.x(), at.y(), zc), R)));
    j.update({{"kind", std::string(kind)},
              {"at", {at.x(), at.y()}},
              {"radius", R},
              {"centre_height", zc}});
    return true;
  }
  if (kind == "dome") {
    const double R = c.num(c.t, std::min(rmax, f.room)), zc = -c.num(0, 0.7 * R);
    if (!c.place(f, R, R, 0.5 * c.t, at)) return false;
    Shape cap =
        intersect(sphere(Vector3d(0, 0, zc), R), box(Vector3d(-R, -R, -e), Vector3d(R, R, R)));
    c.adds.push_back(placed(f, cap, at, 0));
    j.update({{"kind", std::string(kind)},
              {"at", {at.x(), at.y()}},
              {"radius", R},
              {"centre_height", zc}});
    return true;
  }
  const double R = c.num(1.5 * c.t, std::max(1.5 * c.t, std::min(0.2 * span(f), 0.12 * c.S)));
  const double rs = c.num(c.t, std::max(c.t, 0.6 * R));
  if (f.room < 2 * R + c.t) return false;
  const double hs = c.num(c.t, std::min(f.room - 2 * R, 0.3 * c.S));
  if (!c.place(f, R, R, 0.5 * c.t, at)) return false;
  Shape ball = unite(frustum(Vector3d(0, 0, -e), Vector3d(0, 0, hs + R), rs, rs),
                     sphere(Vector3d(0, 0, hs + R), R));
  c.adds.push_back(placed(f, ball, at, 0));
  j.update({{"kind", std::string(kind)},
            {"at", {at.x(), at.y()}},
            {"radius", R},
            {"stem_radius", rs},
            {"stem_height", hs}});
  return true;
}

// ---- torus handles ----------------------------------------------------------------------------

bool handle(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  if (!f.up) return false;
  const double r = c.num(0.5 * c.t, 0.8 * c.t);
  const double Rmax = std::min({0.3 * span(f), 0.15 * c.S, f.room - r});
  if (Rmax < r + c.t) return false;
  const double R = c.num(r + c.t, Rmax), dir = c.num(0, 180);
  const double e = std::min(c.t, 0.5 * f.depth);
  const Vector2d half = turned_half(R + r, r, dir * kDeg);
  Vector2d at;
  if (!c.place(f, half.x(), half.y(), 0.5 * c.t, at)) return false;
  // The ring stands in the local x-z plane, its lower half sunk into the face.
  Shape ring = intersect(torus(Vector3d::Zero(), Vector3d::UnitY(), R, r),
                         box(Vector3d(-R - r, -r, -e), Vector3d(R + r, r, R + r)));
  c.adds.push_back(placed(f, ring, at, dir * kDeg));
  j.update({{"at", {at.x(), at.y()}}, {"ring_radius", R}, {"tube_radius", r}, {"angle_deg", dir}});
  return true;
}

// ---- lettering --------------------------------------------------------------------------------

// Strokes of a 14-segment font on a glyph cell [0,1] x [0,2].
// clang-format off
constexpr std::array<std::array<double, 4>, 14> kSegments = {{
    {0, 2, 1, 2}, {0, 1, 1, 1}, {0, 0, 1, 0},          // top, middle, bottom
    {0, 1, 0, 2}, {1, 1, 1, 2}, {0, 0, 0, 1}, {1, 0, 1, 1},  // upper/lower left and right
    {0, 2, 0.5, 1}, {0.5, 1, 1, 2}, {0, 0, 0.5, 1}, {0.5, 1, 1, 0},  // diagonal halves
    {0.5, 1, 0.5, 2}, {0.5, 0, 0.5, 1}, {0, 1, 0.5, 1},  // centre verticals, left half of middle
}};

struct Glyph {
  char c;
  std::uint16_t segments;  // bit i: kSegments[i]
};

constexpr std::uint16_t seg(std::initializer_list<int> s) {
  std::uint16_t m = 0;
  for (int i : s) m |= std::uint16_t(1u << i);
  return m;
}

constexpr std::array<Glyph, 22> kFont = {{
    {'A', seg({0, 1, 3, 4, 5, 6})}, {'E', seg({0, 1, 2, 3, 5})},    {'F', seg({0, 1, 3, 5})},
    {'H', seg({1, 3, 4, 5, 6})},    {'K', seg({3, 5, 13, 8, 10})},  {'L', seg({2, 3, 5})},
    {'M', seg({3, 4, 5, 6, 7, 8})}, {'N', seg({3, 5, 7, 10, 4, 6})}, {'T', seg({0, 11, 12})},
    {'U', seg({2, 3, 4, 5, 6})},    {'X', seg({7, 8, 9, 10})},      {'Y', seg({7, 8, 12})},
    {'Z', seg({0, 8, 9, 2})},       {'P', seg({0, 1, 3, 4, 5})},    {'0', seg({0, 2, 3, 4, 5, 6, 8, 9})},
    {'1', seg({4, 6})},             {'2', seg({0, 4, 1, 5, 2})},    {'3', seg({0, 4, 1, 6, 2})},
    {'4', seg({3, 1, 4, 6})},       {'5', seg({0, 3, 1, 6, 2})},    {'7', seg({0, 4, 6})},
    {'8', seg({0, 1, 2, 3, 4, 5, 6})},
}};
// clang-format on

bool lettering(Ctx& c, std::size_t fi, json& j) {
  Face& f = c.faces[fi];
  const double sw = c.num(c.t, 1.3 * c.t), gw = c.num(3 * sw, 4.5 * sw);
  const double gh = round2(gw * c.num(1.4, 1.8)), gap = round2(0.4 * gw);
  const double phi = f.up && c.rng.chance(0.4) ? c.num(-90, 90) * kDeg : 0;
  const bool emboss = f.depth < 2.5 * c.t || c.rng.chance(0.6);
  if (emboss && f.room < c.t) return false;
  const double height = emboss ? c.num(0.5 * c.t, std::min(1.5 * c.t, f.room))
                               : c.num(0.5 * c.t, std::min(1.5 * c.t, f.depth - c.t));
  const bool round = c.rng.chance(0.5);
  std::string text;
  for (int n = c.rng.integer(1, 5); n > 0; --n)
    text += kFont[std::size_t(c.rng.integer(0, int(kFont.size()) - 1))].c;
  Vector2d at;
  double width = 0;
  while (!text.empty()) {
    width = double(text.size()) * gw + double(text.size() - 1) * gap + sw;
    const Vector2d half = turned_half(width / 2, (gh + sw) / 2, phi);
    if (c.place(f, half.x(), half.y(), 0.5 * c.t, at)) break;
    text.pop_back();
  }
  if (text.empty()) return false;
  const double e = std::min(c.t, 0.5 * f.depth);
  for (std::size_t g = 0; g < text.size(); ++g) {
    const auto glyph =
        std::find_if(kFont.begin(), kFont.end(), [&](const Glyph& x) { return x.c == text[g]; });
    const Vector2d origin(-width / 2 + sw / 2 + double(g) * (gw + gap), -gh / 2);
    for (std::size_t s = 0; s < kSegments.size(); ++s) {
      if (!(glyph->segments & (1u << s))) continue;
      const auto& q = kSegments[s];
      const Vector2d a = origin + Vector2d(q[0] * gw, q[1] * gh / 2),
                     b = origin + Vector2d(q[2] * gw, q[3] * gh / 2);
      Shape stroke = extruded_polygon(stroke_polygon(a, b, sw / 2, round), emboss ? -e : -height,
                                      emboss ? height : c.t);
      (emboss ? c.adds : c.cuts).push_back(placed(f, stroke, at, phi));
    }
  }
  j.update({{"text", text},
            {"at", {at.x(), at.y()}},
            {"stroke", sw},
            {"glyph_width", gw},
            {"glyph_height", gh},
            {"angle_deg", round2(phi / kDeg)},
            {"emboss", emboss},
            {"height", height},
            {"round_strokes", round}});
  return true;
}

// ---- internal channels ------------------------------------------------------------------------

bool channel(Ctx& c, json& j) {
  if (c.core.isEmpty()) return false;
  const double r = c.num(0.5 * c.t, 0.8 * c.t);
  const AlignedBox3d inner(c.core.min() + Vector3d::Constant(r),
                           c.core.max() - Vector3d::Constant(r));
  if (inner.isEmpty() || inner.sizes().minCoeff() <= 0) return false;
  const int axis = c.rng.integer(0, 1), other = 1 - axis;
  auto in = [&](int a) { return c.num(inner.min()[a], inner.max()[a]); };
  // Both ends outside the body's box, so the channel is open (powder can leave).
  AlignedBox3d body;
  body.setEmpty();
  for (const Shape& s : c.body) body.extend(s.box);
  const double before = body.min()[axis] - 1, after = body.max()[axis] + 1;
  const double k = c.rng.uniform();
  const std::string_view kind = k < 0.4 ? "straight" : k < 0.7 ? "elbow" : "offset";
  std::vector<Vector3d> path;
  Vector3d p0;
  p0[axis] = before, p0[other] = in(other), p0.z() = in(2);
  path.push_back(p0);
  if (kind == "straight") {
    Vector3d p1;
    p1[axis] = after, p1[other] = in(other), p1.z() = in(2);
    path.push_back(p1);
  } else {
    Vector3d p1 = p0;
    p1[axis] = in(axis);
    path.push_back(p1);
    if (kind == "elbow") {  // turns up and leaves through the top
      path.push_back(Vector3d(p1.x(), p1.y(), body.max().z() + 1));
    } else {
      Vector3d p2 = p1;
      p2[other] = in(other), p2.z() = in(2);
      path.push_back(p2);
      Vector3d p3 = p2;
      p3[axis] = after;
      path.push_back(p3);
    }
  }
  json points = json::array();
  for (std::size_t i = 0; i < path.size(); ++i) {
    points.push_back({path[i].x(), path[i].y(), path[i].z()});
    if (i > 0) c.holes.push_back(capsule(path[i - 1], path[i], r));  // last: nothing plugs it
  }
  j.update({{"kind", std::string(kind)}, {"radius", r}, {"path", points}});
  return true;
}

struct Kind {
  const char* name;
  double weight;
  bool (*build)(Ctx&, std::size_t, json&);  // face index; channel ignores it
  bool on_face;
};

const std::array<Kind, 11> kKinds = {{
    {"hole", 3.0, hole, true},
    {"pocket", 2.0, pocket, true},
    {"boss", 2.0, boss, true},
    {"rib", 1.2, [](Ctx& c, std::size_t f, json& j) { return rib(c, f, j, false); }, true},
    {"thin_wall", 0.6, [](Ctx& c, std::size_t f, json& j) { return rib(c, f, j, true); }, true},
    {"ledge", 1.0, ledge, true},
    {"bridge", 0.6, bridge, true},
    {"sphere", 0.8, spherical, true},
    {"handle", 0.5, handle, true},
    {"lettering", 0.8, lettering, true},
    {"channel", 0.8, [](Ctx& c, std::size_t, json& j) { return channel(c, j); }, false},
}};

}  // namespace

void add_features(Ctx& c, int count) {
  double total = 0;
  for (const Kind& k : kKinds) total += k.weight;
  // A kind that does not fit the face drawn (or finds no free spot) is replaced by another draw,
  // up to four draws per feature.
  for (int placed = 0, draws = 0; placed < count && draws < 4 * count; ++draws) {
    double pick = c.rng.uniform(0, total);
    const Kind* kind = &kKinds.back();
    for (const Kind& k : kKinds)
      if ((pick -= k.weight) < 0) {
        kind = &k;
        break;
      }
    json j = {{"type", kind->name}};
    std::size_t fi = 0;
    if (kind->on_face) {
      // Faces weighted by the square root of their area: large faces get more, small ones some.
      double area = 0;
      for (const Face& f : c.faces) area += std::sqrt(f.lu * f.lv);
      if (area <= 0) continue;
      double w = c.rng.uniform(0, area);
      for (fi = 0; fi + 1 < c.faces.size(); ++fi)
        if ((w -= std::sqrt(c.faces[fi].lu * c.faces[fi].lv)) < 0) break;
      j["face"] = c.faces[fi].name;
    }
    if (kind->build(c, fi, j)) c.features.push_back(std::move(j)), ++placed;
  }
}

}  // namespace flare::am::csg
