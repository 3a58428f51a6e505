// Repair of the topological defects of real-world STLs before voxelisation, and the record of
// what was found: CAD exports and mesh tools produce duplicated triangles, flipped triangles,
// shells turned inside out, shells that touch along a shared face (non-manifold edges), shells
// that overlap, and small gaps. Slicers print such files; `am voxelize` must too, and say what it
// tolerated.
//
// What is repaired (in this order):
//  1. Of the copies of a triangle (the same three corners) one is kept, oriented like most of
//     them; none when their orientations cancel (a back-to-back pair: the face that two touching
//     shells share, which cancels in the winding number anyway). Then a group switches between
//     one copy and none where that leaves fewer of its edges used an odd number of times (a closed
//     surface has none): a flipped copy on a single shell keeps one copy (step 2 orients it), a
//     shared face with one of its copies flipped is dropped.
//  2. Orientation: triangles joined by edges of exactly two triangles form patches; within a patch
//     each triangle is oriented like its neighbours, the patch keeping the orientation of the
//     larger part of its area.
//  3. A closed patch (a shell) whose volume is negative is a cavity when it lies inside the rest of
//     the surface (winding number >= 0.5 there) and is kept; otherwise it is an inverted shell and
//     is turned outward. A surface whose total volume is still negative is turned over as a whole.
// What is only counted: non-manifold edges (more than two triangles) and open edges (whose
// triangles do not pair up in opposite directions: gaps and holes). A surface without open edges
// is a closed 2-cycle: its winding number is an integer everywhere and ray crossings count it
// exactly; with open edges it is only defined by the generalized winding number (am/voxelize.h).
#pragma once

#include <cstdint>
#include <string>

#include "am/triangle_surface.h"

namespace flare::am {

struct SurfaceDefects {
  std::int64_t duplicated = 0;       ///< copies of a triangle dropped
  std::int64_t internal_faces = 0;   ///< back-to-back pairs dropped (faces shared by two shells)
  std::int64_t flipped = 0;          ///< triangles reoriented (inverted shells included)
  std::int64_t inverted_shells = 0;  ///< closed shells turned outward (not cavities)
  std::int64_t nonmanifold_edges = 0;  ///< edges of more than two triangles, after 1-3
  std::int64_t open_edges = 0;         ///< edges whose triangles do not pair up, after 1-3
  // Filled by voxelize:
  std::int64_t overlap_voxels = 0;    ///< voxels inside two or more shells (w >= 1.5)
  std::int64_t uncertain_voxels = 0;  ///< voxels with a winding number in (0.25, 0.75)
  bool by_winding_number = false;     ///< inside decided by the generalized winding number
  std::int64_t closing_triangles = 0;  ///< cone triangles that closed the holes for it (0: it
                                       ///< was evaluated at every voxel centre)

  bool closed() const { return open_edges == 0; }
  /// True when anything above is non-zero: the surface was not a clean closed 2-manifold.
  bool any() const;
  /// One line: the defects found and how they were handled ("3 flipped triangles (reoriented),
  /// 16 non-manifold edges; ..."); empty when any() is false.
  std::string describe() const;
};

/// Repairs `s` in place as described above and returns what it found.
SurfaceDefects repair_surface(TriangleSurface& s);

}  // namespace flare::am
