#include "engine/model/config_reader.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace junction {

MlpSpec SwiGluMlp(const std::string& mlp_prefix, int intermediate_size) {
  MlpSpec mlp;
  mlp.kind = MlpKind::kSwiGlu;
  mlp.intermediate_size = intermediate_size;
  mlp.gate = mlp_prefix + "gate_proj.weight";
  mlp.up = mlp_prefix + "up_proj.weight";
  mlp.down = mlp_prefix + "down_proj.weight";
  return mlp;
}

const nlohmann::json* ConfigReader::Find(const std::string& key) const {
  auto it = config_.find(key);
  if (it == config_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigReader::Has(const std::string& key) const { return Find(key) != nullptr; }

std::optional<double> ConfigReader::AsDouble(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_object() && value.contains("__float__") && value["__float__"].is_string()) {
    const std::string s = value["__float__"].get<std::string>();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  }
  return std::nullopt;
}

int ConfigReader::Int(const std::string& key) {
  const nlohmann::json* v = Find(key);
  if (!v || !v->is_number_integer()) {
    Error(absl::StrCat("'", key, "' must be an integer"));
    return 0;
  }
  return v->get<int>();
}

int ConfigReader::Int(const std::string& key, int fallback) {
  return Has(key) ? Int(key) : fallback;
}

int ConfigReader::Size(const std::string& what, double value) {
  if (!(value >= 0.0 && value <= double{1 << 30})) {
    Error(absl::StrCat(what, " must give a size in [0, 2^30], not ", value));
    return 0;
  }
  return static_cast<int>(value);
}

double ConfigReader::Double(const std::string& key) {
  const nlohmann::json* v = Find(key);
  std::optional<double> d = v ? AsDouble(*v) : std::nullopt;
  if (!d) {
    Error(absl::StrCat("'", key, "' must be a number"));
    return 0;
  }
  return *d;
}

double ConfigReader::Double(const std::string& key, double fallback) {
  return Has(key) ? Double(key) : fallback;
}

bool ConfigReader::Bool(const std::string& key, bool fallback) {
  const nlohmann::json* v = Find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    Error(absl::StrCat("'", key, "' must be true or false"));
    return fallback;
  }
  return v->get<bool>();
}

std::string ConfigReader::String(const std::string& key, const std::string& fallback) {
  const nlohmann::json* v = Find(key);
  if (!v) return fallback;
  if (!v->is_string()) {
    Error(absl::StrCat("'", key, "' must be a string"));
    return fallback;
  }
  return v->get<std::string>();
}

std::vector<std::string> ConfigReader::StringList(const std::string& key) {
  std::vector<std::string> out;
  const nlohmann::json* v = Find(key);
  if (!v) return out;
  if (!v->is_array()) {
    Error(absl::StrCat("'", key, "' must be a list of strings"));
    return out;
  }
  for (const auto& item : *v) {
    if (!item.is_string()) {
      Error(absl::StrCat("'", key, "' must be a list of strings"));
      return {};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::Status ConfigReader::Finish(const std::string& context) const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(context, ": ", absl::StrJoin(errors_, "; ")));
}

RopeSpec ConfigReader::Rope(int head_dim) {
  RopeSpec rope;
  nlohmann::json params = nlohmann::json::object();
  if (const nlohmann::json* p = Find("rope_parameters"); p && p->is_object()) {
    params = *p;
  } else if (const nlohmann::json* s = Find("rope_scaling"); s && s->is_object()) {
    params = *s;
  }
  ConfigReader p(params);
  rope.theta = p.Has("rope_theta") ? p.Double("rope_theta") : Double("rope_theta", 10000.0);
  const double partial = p.Has("partial_rotary_factor") ? p.Double("partial_rotary_factor")
                                                        : Double("partial_rotary_factor", 1.0);
  rope.rotary_dim = Size("partial_rotary_factor", head_dim * partial);
  const std::string type = p.String("rope_type", p.String("type", "default"));
  rope.factor = p.Double("factor", 1.0);
  if (type == "default") {
    rope.type = RopeType::kDefault;
  } else if (type == "llama3") {
    rope.type = RopeType::kLlama3;
    rope.low_freq_factor = p.Double("low_freq_factor", 1.0);
    rope.high_freq_factor = p.Double("high_freq_factor", 4.0);
    rope.original_max_positions = p.Int("original_max_position_embeddings");
  } else if (type == "yarn") {
    rope.type = RopeType::kYarn;
    const int max_positions = Int("max_position_embeddings", 0);
    if (p.Has("original_max_position_embeddings")) {
      rope.original_max_positions = p.Int("original_max_position_embeddings");
    } else {
      rope.original_max_positions = max_positions;
    }
    rope.beta_fast = p.Double("beta_fast", 32.0);
    rope.beta_slow = p.Double("beta_slow", 1.0);
    rope.truncate = p.Bool("truncate", true);
    auto mscale = [](double scale, double m) {
      return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
    };
    if (p.Has("attention_factor")) {
      rope.attention_factor = p.Double("attention_factor");
    } else if (p.Has("mscale") && p.Has("mscale_all_dim")) {
      rope.attention_factor =
          mscale(rope.factor, p.Double("mscale")) / mscale(rope.factor, p.Double("mscale_all_dim"));
    } else {
      rope.attention_factor = mscale(rope.factor, 1.0);
    }
  } else {
    Error(absl::StrCat("unsupported rope type '", type, "' (supported: default, llama3, yarn)"));
  }
  for (const std::string& e : p.errors_) Error(absl::StrCat("rope: ", e));
  return rope;
}

void ConfigReader::SpecialTokens(ModelSpec& spec) {
  if (const nlohmann::json* eos = Find("eos_token_id")) {
    if (eos->is_number_integer()) spec.eos_token_ids.push_back(eos->get<TokenId>());
    if (eos->is_array())
      for (const auto& id : *eos)
        if (id.is_number_integer()) spec.eos_token_ids.push_back(id.get<TokenId>());
  }
  if (const nlohmann::json* bos = Find("bos_token_id"); bos && bos->is_number_integer())
    spec.bos_token_id = bos->get<TokenId>();
}

}  // namespace junction
