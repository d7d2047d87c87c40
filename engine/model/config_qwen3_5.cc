// PLACEHOLDER: replaced by the family parser being written.
#include "engine/model/config_reader.h"
#include "engine/model/model_config.h"

namespace junction {

absl::StatusOr<ModelSpec> ParseQwen3_5(const std::string&, ConfigReader&) {
  return absl::UnimplementedError("Qwen3_5ForCausalLM is not supported by this build yet");
}

}  // namespace junction
