// Signed-distance (or at least sign-correct) shape functions for procedural parts, combined by
// CSG with min/max. Only the sign is used when sampling on the voxel grid (solid where sdf <= 0 at
// a voxel centre), so primitives may be distance bounds rather than exact distances.
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <functional>

namespace flare::am {

using Sdf = std::function<double(const Eigen::Vector3d&)>;

struct Shape {
  Sdf sdf;
  Eigen::AlignedBox3d box;   ///< contains the solid
  double min_feature = 1e9;  ///< thinnest wall/strut (mm): the voxel must resolve it
};

/// Axis-aligned box [lo, hi].
Shape box(const Eigen::Vector3d& lo, const Eigen::Vector3d& hi);
/// Cylinder of radius r along `axis` (0 x, 1 y, 2 z) through the point `c` (its other two
/// coordinates), from `lo` to `hi` along the axis.
Shape cylinder(int axis, const Eigen::Vector3d& c, double r, double lo, double hi);
/// Elliptic cylinder along y: (x-cx)^2/a^2 + (z-cz)^2/b^2 <= 1, y in [y0, y1].
Shape elliptic_cylinder_y(double cx, double cz, double a, double b, double y0, double y1);
/// Box of size (lx, ly, lz) with corner at the origin, rotated about +y by `angle` (radians,
/// positive tilts its +x edge upwards), then moved to `at`.
Shape tilted_box(const Eigen::Vector3d& size, double angle, const Eigen::Vector3d& at);
/// Capsule (segment a-b, radius r).
Shape capsule(const Eigen::Vector3d& a, const Eigen::Vector3d& b, double r);

Shape unite(const Shape& a, const Shape& b);
Shape intersect(const Shape& a, const Shape& b);
/// a minus b.
Shape subtract(const Shape& a, const Shape& b);
Shape translate(const Shape& a, const Eigen::Vector3d& offset);

}  // namespace flare::am
