// The `plate` part family: thin plates and vanes standing on edge, the sections that bend in
// their own plane as the layers shrink and that no other family makes tall, thin and
// non-prismatic (thin_wall is one straight vertical slab; pattern's blades stand in arrays on a
// disc). A part is one of four kinds:
//  - leaf: one plate (a trapezoid, optionally round-topped) standing on its edge or on a foot,
//    upright or leaning by up to 40 degrees, flat or bowed across its length or its height,
//    thinning upwards or not, with 0-4 round holes;
//  - pair: two leaves on a vertical knuckle, open at 50-170 degrees (a butt hinge on end): the
//    knuckle whole or split into 2-4 segments on a fused pin, the leaves centred on the knuckle or
//    flush with its side, with holes;
//  - vane: an airfoil (NACA 4-digit thickness on a cambered mean line) tapered, twisted by up to
//    70 degrees and optionally swept, standing on a root block with an optional platform and tip
//    shroud;
//  - link: a flat lever standing on one end: a foot block, a tapered shank (straight or bowed in
//    its plane, optionally I-section with pockets in both faces), an eye with a bore on top,
//    optionally offset sideways (a crank).
//
// Heights are 12-60 mm and plates 1-3.5 mm thick (at least 3.5% of the height): make_part
// resolves the thinnest section with two voxels.
#pragma once

#include <nlohmann/json.hpp>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

/// Builds one `plate` part, standing on z = 0. `params` receives {"kind", "height",
/// "thickness", ...} with the kind's own lengths (mm), angles (degrees) and counts.
Shape plate_part(Rng& rng, nlohmann::json& params);

}  // namespace flare::am
