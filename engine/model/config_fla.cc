// PLACEHOLDER: replaced by the family parser being written.
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {

absl::StatusOr<ModelSpec> ParseFlaGatedDeltaNet(const std::string&, ConfigReader&) {
  return absl::UnimplementedError("GatedDeltaNetForCausalLM is not supported by this build yet");
}

absl::StatusOr<ModelSpec> ParseFlaPath(const std::string&, ConfigReader&) {
  return absl::UnimplementedError("PaTHAttentionForCausalLM is not supported by this build yet");
}

}  // namespace junction
