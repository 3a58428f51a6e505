// The `loft` part family: lofted bodies, the freeform solids of CAD's loft and sweep-with-scaling
// (stems, posts, handles, horns, housings, arms) that the other families build from primitives of
// constant section. A body's section changes along its spine: an ellipse, a rounded rectangle
// (superellipse), an egg or a rounded polygon, morphing from one kind at the bottom to another at
// the top, tapered, bulging or flared at the base, twisted, on a straight, leaning or bent spine.
//  - standing (about 70%): the spine rises from the plate, leaning or bending by up to ~35
//    degrees; solid, or hollow (an open-topped shell with a floor); a blind bore along the spine;
//    a branch at the top rising at 0-75 degrees (a neck, ending flat, in a cone or in a ball) or a
//    head (a ball or a cap wider than the top); a foot (a disc or a plate, with bolt holes).
//  - lying (about 30%): the spine runs along x, bent in y, the section flattened where it rests on
//    the plate; solid or a tube open at both ends; bosses with vertical bores at the ends.
//  Either kind may have 0-3 round holes (windows through a hollow body) across the spine; a
//  hollow lying body keeps a floor of t where it sinks into the plate.
//
// Heights (standing) or lengths (lying) are 12-80 mm; every wall, ligament and section is at least
// `thickness` t (1-4 mm, at least 3% of the size) in its slice, and `min_feature` is the thinnest
// wall or section foreshortened by the surface's slope where it is (lean, taper, twist), which
// make_part resolves with two voxels.
#pragma once

#include <nlohmann/json.hpp>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

/// Builds one `loft` part, standing on z = 0. `params` receives {"kind" (standing | lying),
/// "size", "thickness", "section_bottom", "section_top", ...} with lengths in mm, angles in
/// degrees and counts.
Shape loft_part(Rng& rng, nlohmann::json& params);

}  // namespace flare::am
