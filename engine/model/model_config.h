// config.json -> ModelSpec. One parser per model family (config_<family>.cc), chosen by
// `architectures[0]`; an unknown architecture is an error listing the supported ones.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model_spec.h"
#include "nlohmann/json.hpp"

namespace junction {

// Parses a config.json object. Every problem found is reported in one InvalidArgument error.
absl::StatusOr<ModelSpec> ParseModelConfig(const nlohmann::json& config);

// Reads DIR/config.json and parses it; errors name the file.
absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& dir);

std::vector<std::string> SupportedArchitectures();

// Family parsers (registered in model_config.cc).
class ConfigReader;
absl::StatusOr<ModelSpec> ParseLlamaFamily(const std::string& architecture, ConfigReader& config);
absl::StatusOr<ModelSpec> ParseMamba2Family(const std::string& architecture, ConfigReader& config);
absl::StatusOr<ModelSpec> ParseGraniteHybrid(const std::string& architecture, ConfigReader& config);
absl::StatusOr<ModelSpec> ParseNemotronH(const std::string& architecture, ConfigReader& config);
absl::StatusOr<ModelSpec> ParseQwen3_5(const std::string& architecture, ConfigReader& config);
absl::StatusOr<ModelSpec> ParseFlaGatedDeltaNet(const std::string& architecture, ConfigReader& config);
absl::StatusOr<ModelSpec> ParseFlaPath(const std::string& architecture, ConfigReader& config);

}  // namespace junction
