// PLACEHOLDER: replaced by the family parser being written.
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {

absl::StatusOr<ModelSpec> ParseGraniteHybrid(const std::string&, ConfigReader&) {
  return absl::UnimplementedError("GraniteMoeHybridForCausalLM is not supported by this build yet");
}

absl::StatusOr<ModelSpec> ParseNemotronH(const std::string&, ConfigReader&) {
  return absl::UnimplementedError("NemotronHForCausalLM is not supported by this build yet");
}

}  // namespace junction
