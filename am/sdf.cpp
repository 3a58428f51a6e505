#include "am/sdf.h"

#include <algorithm>
#include <cmath>

namespace flare::am {

using Eigen::Vector3d;

Shape box(const Vector3d& lo, const Vector3d& hi) {
  Shape s;
  s.sdf = [lo, hi](const Vector3d& p) { return (lo - p).cwiseMax(p - hi).maxCoeff(); };
  s.box = Eigen::AlignedBox3d(lo, hi);
  s.min_feature = (hi - lo).minCoeff();
  return s;
}

Shape cylinder(int axis, const Vector3d& c, double r, double lo, double hi) {
  const int u = (axis + 1) % 3, v = (axis + 2) % 3;
  Shape s;
  s.sdf = [=](const Vector3d& p) {
    double radial = std::hypot(p[u] - c[u], p[v] - c[v]) - r;
    return std::max({radial, lo - p[axis], p[axis] - hi});
  };
  Vector3d bl = c, bh = c;
  bl[u] -= r, bl[v] -= r, bh[u] += r, bh[v] += r;
  bl[axis] = lo, bh[axis] = hi;
  s.box = Eigen::AlignedBox3d(bl, bh);
  s.min_feature = std::min(2 * r, hi - lo);
  return s;
}

Shape elliptic_cylinder_y(double cx, double cz, double a, double b, double y0, double y1) {
  Shape s;
  const double scale = std::min(a, b);
  s.sdf = [=](const Vector3d& p) {
    double e = (std::hypot((p.x() - cx) / a, (p.z() - cz) / b) - 1) * scale;
    return std::max({e, y0 - p.y(), p.y() - y1});
  };
  s.box = Eigen::AlignedBox3d(Vector3d(cx - a, y0, cz - b), Vector3d(cx + a, y1, cz + b));
  s.min_feature = 2 * scale;
  return s;
}

Shape tilted_box(const Vector3d& size, double angle, const Vector3d& at) {
  const double c = std::cos(angle), sn = std::sin(angle);
  Shape s;
  // World = at + R * local, R rotates +x towards +z; local = R^T (p - at).
  s.sdf = [=](const Vector3d& p) {
    Vector3d d = p - at;
    Vector3d q(c * d.x() + sn * d.z(), d.y(), -sn * d.x() + c * d.z());
    return (-q).cwiseMax(q - size).maxCoeff();
  };
  for (int corner = 0; corner < 8; ++corner) {
    Vector3d l(corner & 1 ? size.x() : 0, corner & 2 ? size.y() : 0, corner & 4 ? size.z() : 0);
    s.box.extend(at + Vector3d(c * l.x() - sn * l.z(), l.y(), sn * l.x() + c * l.z()));
  }
  s.min_feature = size.minCoeff();
  return s;
}

Shape capsule(const Vector3d& a, const Vector3d& b, double r) {
  Shape s;
  const Vector3d ab = b - a;
  const double len2 = ab.squaredNorm();
  s.sdf = [=](const Vector3d& p) {
    double t = std::clamp((p - a).dot(ab) / len2, 0.0, 1.0);
    return (p - a - t * ab).norm() - r;
  };
  s.box = Eigen::AlignedBox3d(a.cwiseMin(b) - Vector3d::Constant(r), a.cwiseMax(b) + Vector3d::Constant(r));
  s.min_feature = 2 * r;
  return s;
}

Shape sphere(const Vector3d& c, double r) {
  Shape s;
  s.sdf = [=](const Vector3d& p) { return (p - c).norm() - r; };
  s.box = Eigen::AlignedBox3d(c - Vector3d::Constant(r), c + Vector3d::Constant(r));
  s.min_feature = 2 * r;
  return s;
}

namespace {

// Half-extents of the axis-aligned box around a disc of radius r with unit normal n.
Vector3d disc_extent(const Vector3d& n, double r) {
  return (Vector3d::Ones() - n.cwiseAbs2()).cwiseMax(0.0).cwiseSqrt() * r;
}

}  // namespace

Shape frustum(const Vector3d& a, const Vector3d& b, double ra, double rb) {
  const double len = (b - a).norm();
  const Vector3d u = (b - a) / len;
  const double slope = (rb - ra) / len;
  // The side's distance along the radius, scaled by the cosine of the half-angle: a bound on the
  // distance to the slanted side, exact on it.
  const double cos_half = 1 / std::sqrt(1 + slope * slope);
  Shape s;
  s.sdf = [=](const Vector3d& p) {
    const Vector3d w = p - a;
    const double t = w.dot(u);
    const double radial = (w - t * u).norm();
    return std::max({(radial - (ra + slope * t)) * cos_half, -t, t - len});
  };
  const Vector3d ea = disc_extent(u, ra), eb = disc_extent(u, rb);
  s.box = Eigen::AlignedBox3d((a - ea).cwiseMin(b - eb), (a + ea).cwiseMax(b + eb));
  s.min_feature = std::min(2 * std::max(ra, rb), len);
  return s;
}

Shape torus(const Vector3d& c, const Vector3d& normal, double R, double r) {
  const Vector3d n = normal.normalized();
  Shape s;
  s.sdf = [=](const Vector3d& p) {
    const Vector3d q = p - c;
    const double along = q.dot(n);
    return std::hypot((q - along * n).norm() - R, along) - r;
  };
  const Vector3d e = disc_extent(n, R) + Vector3d::Constant(r);
  s.box = Eigen::AlignedBox3d(c - e, c + e);
  s.min_feature = 2 * r;
  return s;
}

Shape wedge(const Vector3d& size) {
  const double lx = size.x(), lz = size.z();
  const double norm = std::hypot(1 / lx, 1 / lz);
  Shape s;
  s.sdf = [=](const Vector3d& p) {
    const double in_box = (-p).cwiseMax(p - size).maxCoeff();
    return std::max(in_box, (p.x() / lx + p.z() / lz - 1) / norm);
  };
  s.box = Eigen::AlignedBox3d(Vector3d::Zero(), size);
  s.min_feature = size.minCoeff();
  return s;
}

Shape extruded_polygon(const std::vector<Eigen::Vector2d>& poly, double z0, double z1) {
  using Eigen::Vector2d;
  Shape s;
  // Signed distance to a simple polygon: the nearest edge gives the distance, the crossing
  // number of a ray along +x the sign (after I. Quilez's sdPolygon).
  s.sdf = [poly, z0, z1](const Vector3d& p3) {
    const Vector2d p = p3.head<2>();
    double d2 = (p - poly[0]).squaredNorm();
    bool inside = false;
    for (std::size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
      const Vector2d e = poly[j] - poly[i], w = p - poly[i];
      const Vector2d b = w - e * std::clamp(w.dot(e) / e.squaredNorm(), 0.0, 1.0);
      d2 = std::min(d2, b.squaredNorm());
      const bool c1 = p.y() >= poly[i].y(), c2 = p.y() < poly[j].y(), c3 = e.x() * w.y() > e.y() * w.x();
      if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) inside = !inside;
    }
    const double d = inside ? -std::sqrt(d2) : std::sqrt(d2);
    return std::max({d, z0 - p3.z(), p3.z() - z1});
  };
  s.box.setEmpty();
  for (const Vector2d& v : poly) s.box.extend(Vector3d(v.x(), v.y(), z0)), s.box.extend(Vector3d(v.x(), v.y(), z1));
  double shortest = 1e9;
  for (std::size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++)
    shortest = std::min(shortest, (poly[i] - poly[j]).norm());
  s.min_feature = std::min(z1 - z0, shortest);  // the caller knows the polygon's thinnest width
  return s;
}

Shape chamfered_box(const Vector3d& lo, const Vector3d& hi, double c) {
  const Vector3d mid = (lo + hi) / 2, half = (hi - lo) / 2;
  Shape s;
  s.sdf = [=](const Vector3d& p) {
    const Vector3d q = (p - mid).cwiseAbs() - half;  // per axis, > 0 outside that pair of faces
    const double bevel = std::max({q.x() + q.y(), q.y() + q.z(), q.z() + q.x()}) + c;
    return std::max(q.maxCoeff(), bevel / std::sqrt(2.0));
  };
  s.box = Eigen::AlignedBox3d(lo, hi);
  s.min_feature = (hi - lo).minCoeff();
  return s;
}

Shape unite(const Shape& a, const Shape& b) {
  Shape s;
  s.sdf = [fa = a.sdf, fb = b.sdf](const Vector3d& p) { return std::min(fa(p), fb(p)); };
  s.box = a.box.merged(b.box);
  s.min_feature = std::min(a.min_feature, b.min_feature);
  return s;
}

Shape intersect(const Shape& a, const Shape& b) {
  Shape s;
  s.sdf = [fa = a.sdf, fb = b.sdf](const Vector3d& p) { return std::max(fa(p), fb(p)); };
  s.box = a.box.intersection(b.box);
  s.min_feature = std::min(a.min_feature, b.min_feature);
  return s;
}

Shape subtract(const Shape& a, const Shape& b) {
  Shape s;
  s.sdf = [fa = a.sdf, fb = b.sdf](const Vector3d& p) { return std::max(fa(p), -fb(p)); };
  s.box = a.box;
  s.min_feature = a.min_feature;
  return s;
}

Shape translate(const Shape& a, const Vector3d& offset) {
  Shape s;
  s.sdf = [fa = a.sdf, offset](const Vector3d& p) { return fa(p - offset); };
  s.box = Eigen::AlignedBox3d(a.box.min() + offset, a.box.max() + offset);
  s.min_feature = a.min_feature;
  return s;
}

Shape transform(const Shape& a, const Eigen::Isometry3d& pose) {
  Shape s;
  const Eigen::Isometry3d inv = pose.inverse();
  s.sdf = [fa = a.sdf, inv](const Vector3d& p) { return fa(inv * p); };
  s.box.setEmpty();
  for (int corner = 0; corner < 8; ++corner) s.box.extend(pose * a.box.corner(Eigen::AlignedBox3d::CornerType(corner)));
  s.min_feature = a.min_feature;
  return s;
}

Shape rotate(const Shape& a, const Vector3d& axis, double angle, const Vector3d& pivot) {
  Eigen::Isometry3d pose = Eigen::Translation3d(pivot) * Eigen::AngleAxisd(angle, axis.normalized()) *
                           Eigen::Translation3d(-pivot);
  return transform(a, pose);
}

Shape scale(const Shape& a, double k) {
  Shape s;
  s.sdf = [fa = a.sdf, k](const Vector3d& p) { return k * fa(p / k); };
  s.box = Eigen::AlignedBox3d(a.box.min() * k, a.box.max() * k);
  s.min_feature = a.min_feature * k;
  return s;
}

Shape on_plate(const Shape& a) {
  Shape s;
  s.sdf = [fa = a.sdf](const Vector3d& p) { return std::max(fa(p), -p.z()); };
  s.box = a.box;
  s.box.min().z() = 0;
  s.min_feature = a.min_feature;
  return s;
}

}  // namespace flare::am
