// The `sweep` part family: round rods and tubes swept along bent paths, the shapes the other
// families lack and users' parts have (pipes and elbows, handles and arches, hooks, wheels):
// sections that are round everywhere and overhangs that turn with the path.
//
// A part is one of: an elbow (a pipe rising from a flange and bending by 45-135 degrees into a
// straight run), an arch standing on its two feet, a hook (a post with a J bend on top and a
// tip hanging down, on a foot), or an upright ring on a foot with 0 or 3-6 spokes and a hub.
// Pipes, arches and rings of 2.5 mm radius or more are hollow 60% of the time (walls of 25-45% of
// the radius, at least 0.8 mm): about 30% of the parts at 5k-30k nodes.
#pragma once

#include <nlohmann/json.hpp>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

/// Builds one `sweep` part, standing on z = 0. `params` receives {"kind", "radius",
/// "bend_radius", "hollow", "wall", ...} with the kind's own lengths (mm).
Shape sweep_part(Rng& rng, nlohmann::json& params);

}  // namespace flare::am
