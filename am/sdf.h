// Signed-distance (or at least sign-correct) shape functions for procedural parts, combined by
// CSG with min/max. Only the sign is used when sampling on the voxel grid (solid where sdf <= 0 at
// a voxel centre), so primitives may be distance bounds rather than exact distances.
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <functional>
#include <vector>

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
/// Sphere of radius r about c.
Shape sphere(const Eigen::Vector3d& c, double r);
/// Cone frustum on the segment a-b (any direction): radius ra at a, rb at b (either may be 0), flat
/// caps. ra == rb is a cylinder.
Shape frustum(const Eigen::Vector3d& a, const Eigen::Vector3d& b, double ra, double rb);
/// Torus about the axis through c along `normal` (need not be unit): ring radius R, tube radius r.
Shape torus(const Eigen::Vector3d& c, const Eigen::Vector3d& normal, double R, double r);
/// Wedge (right triangular prism) in [0,lx]x[0,ly]x[0,lz]: full height lz at x = 0, falling linearly
/// to 0 at x = lx (z <= lz (1 - x/lx)); the ramp faces +x+z. Orient it with `transform`.
Shape wedge(const Eigen::Vector3d& size);
/// Simple polygon in the x-y plane (vertices in either winding, not self-intersecting), extruded
/// along z from z0 to z1.
Shape extruded_polygon(const std::vector<Eigen::Vector2d>& polygon, double z0, double z1);
/// Box [lo, hi] with all twelve edges bevelled at 45 degrees by c (the chamfer's leg length).
Shape chamfered_box(const Eigen::Vector3d& lo, const Eigen::Vector3d& hi, double c);

Shape unite(const Shape& a, const Shape& b);
Shape intersect(const Shape& a, const Shape& b);
/// a minus b.
Shape subtract(const Shape& a, const Shape& b);
Shape translate(const Shape& a, const Eigen::Vector3d& offset);
/// Rigid motion: the shape moved by `pose` (rotation and translation; no scaling). Its box is the
/// axis-aligned box around the moved corners of a's box (conservative).
Shape transform(const Shape& a, const Eigen::Isometry3d& pose);
/// Rotation by `angle` (radians, right-handed) about the line through `pivot` along `axis`.
Shape rotate(const Shape& a, const Eigen::Vector3d& axis, double angle, const Eigen::Vector3d& pivot);
/// Uniform scaling about the origin by s > 0 (distances and min_feature scale with it).
Shape scale(const Shape& a, double s);
/// `a` cut at the build plate: nothing below z = 0, and its box starting there.
Shape on_plate(const Shape& a);

}  // namespace flare::am
