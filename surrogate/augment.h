// Training augmentation by the symmetries of the process (lpbf.md "Invariances"): with in-plane
// isotropic inherent strain, a part rotated about z or mirrored in x or y deforms the same way
// with its displacement turned along, so each training part is shown in a random one of these
// poses per step.
//
// The poses are the 8 symmetries of the square (the dihedral group D4: rotations by multiples of
// 90 degrees and the four mirrors), not arbitrary angles: they map the voxel lattice onto itself,
// so a transformed part is exactly a part the voxelizer could have produced (the same voxels, the
// same staircase surfaces and normals), while a 30-degree turn of a voxel mesh is a part no
// dataset contains. On the lattice the transform is a swap and sign flips of the x/y columns:
// exact in floating point, and it commutes with the normalisation because a version-2 dataset
// gives each in-plane pair mean 0 and one std (surrogate/dataset.h).
//
// The pose of a part is a function of (seed, epoch, sample) only, so a resumed run repeats it
// without saved RNG state.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/ops.h"
#include "mesh/features.h"
#include "surrogate/normalizer.h"

namespace flare::surrogate {

/// One of the 8 elements of D4 acting on in-plane vectors (u, v): element g mirrors u -> -u when
/// g >= 4, then rotates by (g mod 4) x 90 degrees counter-clockwise about z.
struct PlaneTransform {
  bool swap = false;      ///< result takes (v, u) instead of (u, v)
  float su = 1, sv = 1;   ///< signs of the result's two components

  static PlaneTransform element(int g);
  /// (u, v) -> (su * (swap ? v : u), sv * (swap ? u : v)).
  void apply(float& u, float& v) const {
    const float a = swap ? v : u, b = swap ? u : v;
    u = su * a;
    v = sv * b;
  }
  /// The same map on doubles (points of a mesh, for tests and tools).
  void apply(double& u, double& v) const {
    const double a = swap ? v : u, b = swap ? u : v;
    u = su * a;
    v = sv * b;
  }
};

/// Which columns of a dataset's features and targets are in-plane vectors, checked once.
class PlaneAugmenter {
 public:
  /// Throws InputError, one line naming `source`, when the columns have no known transform (a
  /// version-1 recipe's absolute coordinates, an array that is neither a scalar nor a 3-vector)
  /// or the normalisation is not symmetric (an in-plane pair without mean 0 and one std).
  PlaneAugmenter(const mesh::FeatureRecipe& recipe, const Normalizer& norm,
                 const std::string& source);

  /// The pose (0..7) of `sample` in `epoch` of a run seeded `seed`; uniform over the 8.
  static int draw(std::uint64_t seed, std::int64_t epoch, std::int64_t sample);

  /// Element g as a map of the F feature and T target columns (kernels::ColumnMap): in-plane pairs
  /// transformed, every other column copied. The trainer applies it while placing a sample.
  kernels::ColumnMap feature_map(int g, int F) const { return column_map(m_features, g, F); }
  kernels::ColumnMap target_map(int g, int T) const { return column_map(m_targets, g, T); }

  /// Applies element g to rows [begin, end) of normalised features x [N, F] and targets y [N, T],
  /// in place: in-plane pairs are transformed, every other column is left alone.
  void apply(int g, mesh::FeatureMatrix& x, mesh::FeatureMatrix& y, Eigen::Index begin,
             Eigen::Index end) const;

  const mesh::PlaneSymmetry& features() const { return m_features; }
  /// The pairs of s under element g as a map of `cols` columns.
  static kernels::ColumnMap column_map(const mesh::PlaneSymmetry& s, int g, int cols);
  const mesh::PlaneSymmetry& targets() const { return m_targets; }

 private:
  mesh::PlaneSymmetry m_features, m_targets;
};

}  // namespace flare::surrogate
