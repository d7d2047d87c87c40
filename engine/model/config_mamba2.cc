// PLACEHOLDER: replaced by the family parser being written.
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {

absl::StatusOr<ModelSpec> ParseMamba2Family(const std::string&, ConfigReader&) {
  return absl::UnimplementedError("Mamba2ForCausalLM is not supported by this build yet");
}

}  // namespace junction
