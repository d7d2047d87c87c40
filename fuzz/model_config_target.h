// config.json -> ModelSpec (ParseModelConfig) for every registered family. Inputs that are not
// JSON are dropped early; the parser must turn any JSON value into a spec or one clean error.
#pragma once

#include <cstdint>

#include "engine/model/model_config.h"
#include "nlohmann/json.hpp"

namespace junction::fuzz {

// Returns false when an accepted input breaks a property stated above.
inline bool ModelConfigTarget(const uint8_t* data, size_t size) {
  nlohmann::json config = nlohmann::json::parse(data, data + size, nullptr,
                                                /*allow_exceptions=*/false);
  if (config.is_discarded()) return true;
  auto spec = junction::ParseModelConfig(config);
  if (!spec.ok() && spec.status().message().empty()) return false;  // errors say why
  return true;
}

}  // namespace junction::fuzz
