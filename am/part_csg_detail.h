// Internals of the `csg` family (am/part_csg.h), shared by its body builders (part_csg.cpp) and
// its feature builders (part_csg_features.cpp).
#pragma once

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "am/part_params.h"
#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am::csg {

/// A flat rectangle on the part's surface where features go. Local frame: x, y in the face
/// ([0,lu] x [0,lv]), z along the outward normal (z < 0 is inside the material).
struct Face {
  std::string name;
  Eigen::Isometry3d frame = Eigen::Isometry3d::Identity();  ///< local -> design coordinates
  double lu = 0, lv = 0;
  double depth = 0;  ///< material behind the face along -z (a through-hole's length)
  double room = 0;   ///< free height above the face for added features
  bool up = false;   ///< normal +z (ribs, walls, bridges stand only on these)
  std::vector<Eigen::AlignedBox2d> used;  ///< footprints taken, with half the margin around them

  Eigen::Vector3d at(double u, double v, double w) const {
    return frame * Eigen::Vector3d(u, v, w);
  }
};

/// Frame with origin `o`, local x along `u` and z along the outward normal `n` (y = n x u).
Eigen::Isometry3d face_frame(const Eigen::Vector3d& o, const Eigen::Vector3d& u,
                             const Eigen::Vector3d& n);

/// Everything a builder draws from and adds to. The part is, in this order: the union of `body`,
/// minus `cuts`, plus `adds`, minus `holes` (holes last, so they also go through bosses).
struct Ctx {
  Rng& rng;
  double S = 0;  ///< design size (largest dimension before the final turn and scale), mm
  double t = 0;  ///< minimum thickness of walls, ribs, strokes and the material around cuts, mm
  double chamfer = 0;  ///< voxel-scale bevel on box edges and boss tops, mm
  std::vector<Shape> body, cuts, adds, holes;
  std::vector<Face> faces;
  /// Box (design coordinates) inside the material where an internal channel's axis may run;
  /// empty when the body has no solid core.
  Eigen::AlignedBox3d core;
  nlohmann::json features = nlohmann::json::array();

  explicit Ctx(Rng& r) : rng(r) { core.setEmpty(); }
  /// Uniform in [lo, hi), rounded to 0.01; lo when the range is empty.
  double num(double lo, double hi) { return uniform2(rng, lo, hi); }
  /// Takes a free spot for a footprint of half-size (hu, hv) on `f`, at least `margin` from the
  /// face edges and from other footprints (a finite `v` fixes the centre's v and lets the
  /// footprint reach the v edges). False when none of a few random spots is free.
  bool place(Face& f, double hu, double hv, double margin, Eigen::Vector2d& centre,
             double v = std::numeric_limits<double>::quiet_NaN());
};

/// Adds `count` random features to the faces (and the core) of the body in `c`, fewer when the
/// faces are full.
void add_features(Ctx& c, int count);

/// Shape in face-local coordinates moved onto the face.
Shape on_face(const Face& f, const Shape& local);

}  // namespace flare::am::csg
