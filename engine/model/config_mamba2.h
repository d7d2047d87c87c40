// Helpers shared by the parsers of families with Mamba2 layers (config_mamba2.cc,
// config_hybrid.cc).
#pragma once

#include "engine/model/config_reader.h"
#include "engine/model/model_spec.h"

namespace junction {

// Reads `time_step_limit` ([min, max]; either may be {"__float__": "Infinity"}) into
// spec.dt_min / dt_max; absent means [0, +inf). Records an error on a malformed value.
void ReadTimeStepLimit(ConfigReader& config, Mamba2Spec& spec);

}  // namespace junction
