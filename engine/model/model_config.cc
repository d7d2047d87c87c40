#include "engine/model/model_config.h"

#include <fstream>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "engine/model/config_reader.h"

namespace junction {
namespace {

using FamilyParser =
    std::function<absl::StatusOr<ModelSpec>(const std::string&, ConfigReader&)>;

struct Family {
  const char* architecture;
  FamilyParser parse;
};

const std::vector<Family>& Families() {
  static const std::vector<Family> families = {
      {"LlamaForCausalLM", ParseLlamaFamily},
      {"Qwen2ForCausalLM", ParseLlamaFamily},
      {"Qwen3ForCausalLM", ParseLlamaFamily},
      {"MistralForCausalLM", ParseLlamaFamily},
      {"Mamba2ForCausalLM", ParseMamba2Family},
      {"GraniteMoeHybridForCausalLM", ParseGraniteHybrid},
      {"NemotronHForCausalLM", ParseNemotronH},
      {"Qwen3_5ForCausalLM", ParseQwen3_5},
      {"GatedDeltaNetForCausalLM", ParseFlaGatedDeltaNet},
      {"PaTHAttentionForCausalLM", ParseFlaPath},
  };
  return families;
}

}  // namespace

std::vector<std::string> SupportedArchitectures() {
  std::vector<std::string> names;
  for (const Family& f : Families()) names.push_back(f.architecture);
  return names;
}

absl::StatusOr<ModelSpec> ParseModelConfig(const nlohmann::json& config) {
  if (!config.is_object()) return absl::InvalidArgumentError("config is not a JSON object");
  auto archs = config.find("architectures");
  if (archs == config.end() || !archs->is_array() || archs->empty() ||
      !(*archs)[0].is_string())
    return absl::InvalidArgumentError(
        "config has no 'architectures' list; supported: " +
        absl::StrJoin(SupportedArchitectures(), ", "));
  const std::string architecture = (*archs)[0].get<std::string>();
  for (const Family& f : Families()) {
    if (architecture != f.architecture) continue;
    ConfigReader reader(config);
    ASSIGN_OR_RETURN(ModelSpec spec, f.parse(architecture, reader));
    spec.architecture = architecture;
    return spec;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported architecture '", architecture,
                                                 "'; supported: ",
                                                 absl::StrJoin(SupportedArchitectures(), ", ")));
}

absl::StatusOr<ModelSpec> LoadModelSpec(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  auto spec = ParseModelConfig(config);
  if (!spec.ok())
    return absl::Status(spec.status().code(), absl::StrCat(path, ": ", spec.status().message()));
  return spec;
}

}  // namespace junction
