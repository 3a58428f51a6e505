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

}  // namespace flare::am
