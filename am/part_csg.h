// The `csg` part family: random CAD-like parts built by CSG from boxes, cylinders, cones, spheres,
// tori, wedges and extruded polygons, so that a model trained on procedural parts meets the
// shapes of real mechanical parts (holes, pockets, bosses, ribs, overhangs, channels, text).
//
// A part is a body (block, housing, turned part, standing or lying extruded profile, bracket) and
// 2-8 features placed on its faces without overlapping one another: through and blind holes
// (tilted, countersunk, counterbored, in rows), pockets and slots, bosses (cylinder, cone frustum,
// polygon prism, chamfered box; tilted or on side faces), ribs and thin walls, ledges (overhangs)
// with or without a gusset, bridges and arches, domes, balls on stems and dimples, torus handles,
// embossed or engraved glyph strings, and internal channels. The design is then turned about z
// (half of the parts) and scaled so that its largest dimension is the drawn size, 10-120 mm.
//
// Every dimension that decides the voxel count is at least the part's `min_thickness` (walls,
// ribs, strokes, the material left around holes and pockets), which make_part resolves with two
// voxels; subtractions keep that much material to the face edges, so the part stays one solid.
#pragma once

#include <nlohmann/json.hpp>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

/// Builds one `csg` part from the generator, standing on z = 0. `params` receives
/// {"size_mm", "min_thickness", "chamfer", "rotation_z_deg", "scale", "body": {...},
/// "features": [{"type", "face", ...}, ...]}: lengths in mm of the design, which the final part
/// is `scale` times, turned by rotation_z_deg about z.
Shape csg_part(Rng& rng, nlohmann::json& params);

}  // namespace flare::am
