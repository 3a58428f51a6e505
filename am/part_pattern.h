// The `pattern` part family: repeated slender features joined at their ends or laid out in
// patterns, the layout that real parts have and no other family makes (circular and linear
// arrays and helical sweeps are among the most common CAD operations). A part is one of five
// layouts, each with its own kinds:
//  - radial: a circular array of 3-24 blades, vanes, fins or spokes (straight, offset, log-spiral
//    or arc-curved; vertical or leaning; constant or tapered thickness and height): an impeller
//    (blades on a disc, optional hub and bore, shroud or outer ring, holes in the disc), a flat
//    wheel (hub, rim and spokes, the spokes on the plate or bridging at mid-height) or a star
//    (fins around a core);
//  - grid: a rectangular or staggered array of round, square or diamond pins (3-40 mm, optionally
//    tapered) on a base, optionally under a cover plate (pins bridging two plates) and between
//    side walls;
//  - fins: a linear array of straight or wavy fins on a base (heat sink), optionally tapered,
//    slotted across or joined by a cross rib, with mounting holes in the base's ends;
//  - helix: a coil (round or rectangular wire swept along a helix standing on end, 1-8 active
//    turns, closed or open ends, ground flat or on a base plate, an optional top plate) or a
//    thread (an external or internal helical rib, 1-3 starts, or a thin auger flight, around a
//    solid or hollow core, an optional base flange);
//  - circular: a circular pattern of holes, kidney slots, bosses or rim notches on a flange (with
//    an optional neck), a toothed disc or ring (gear teeth, splines or scallops, outside and
//    optionally inside) lying flat or standing upright, or a castellated tube (top notches and an
//    optional ring of radial holes).
//
// Every wall, blade, pin, wire, tooth and the gaps between repeated features are at least the
// part's `min_thickness` t, which make_part resolves with two voxels; the repeated features are
// evaluated by folding the point into one period of the pattern, so a part with 24 blades or 150
// pins costs about as much as one with a few.
#pragma once

#include <nlohmann/json.hpp>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

/// Builds one `pattern` part, standing on z = 0. `params` receives {"layout", "kind",
/// "size_mm", "min_thickness", "estimated_nodes", ...} with the layout's own lengths (mm),
/// angles (degrees) and counts.
Shape pattern_part(Rng& rng, nlohmann::json& params);

}  // namespace flare::am
