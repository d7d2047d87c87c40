// ConfigReader: typed access to config.json that collects every problem instead of stopping at
// the first, so one error message lists all of them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/model_spec.h"
#include "nlohmann/json.hpp"

namespace junction {

// The SwiGLU MLP as Hugging Face and fla name it: <mlp_prefix>{gate,up,down}_proj.weight.
MlpSpec SwiGluMlp(const std::string& mlp_prefix, int intermediate_size);

class ConfigReader {
 public:
  explicit ConfigReader(const nlohmann::json& config) : config_(config) {}

  bool Has(const std::string& key) const;  // present and not null
  bool Contains(const std::string& key) const { return config_.contains(key); }
  // Required values record an error when missing or of the wrong type (and return 0 / false).
  int Int(const std::string& key);
  double Double(const std::string& key);
  // Optional values fall back to `fallback` when absent or null.
  int Int(const std::string& key, int fallback);
  double Double(const std::string& key, double fallback);
  bool Bool(const std::string& key, bool fallback);
  std::string String(const std::string& key, const std::string& fallback);
  std::vector<std::string> StringList(const std::string& key);
  const nlohmann::json* Find(const std::string& key) const;

  void Error(const std::string& message) { errors_.push_back(message); }
  // A size computed from the config's numbers (e.g. hidden_size * expand), truncated to an int:
  // values outside [0, 2^30] (or NaN) record an error naming `what` and give 0, instead of an
  // out-of-range float-to-int conversion (undefined behaviour).
  int Size(const std::string& what, double value);
  // OK, or InvalidArgument listing every recorded problem.
  absl::Status Finish(const std::string& context) const;

  // Reads a number that may be written as {"__float__": "Infinity"}.
  static std::optional<double> AsDouble(const nlohmann::json& value);

  // RoPE from `rope_parameters` (new) or `rope_scaling` + `rope_theta` (old); `type` or
  // `rope_type`. `rotary_dim` = head_dim * partial_rotary_factor.
  RopeSpec Rope(int head_dim);

  // eos_token_id as an int or a list; bos_token_id.
  void SpecialTokens(ModelSpec& spec);

 private:
  const nlohmann::json& config_;
  std::vector<std::string> errors_;
};

}  // namespace junction
