#include "server/http/json_fields.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace junction::server {
namespace {

// Well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string Number(double v) { return absl::StrFormat("%g", v); }

}  // namespace

std::string JsonTypeName(const nlohmann::json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

std::optional<ApiError> ParseJsonObject(std::string_view body, nlohmann::json& out) {
  if (!IsValidUtf8(body)) {
    return InvalidRequest("The request body is not valid UTF-8.", "", "invalid_utf8");
  }
  out = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    return InvalidRequest(
        "We could not parse the JSON body of your request. The body must be valid JSON.", "",
        "invalid_json");
  }
  if (!out.is_object()) {
    return InvalidRequest(
        absl::StrCat("The request body must be a JSON object, not ", JsonTypeName(out), "."), "",
        "invalid_json");
  }
  return std::nullopt;
}

const nlohmann::json* JsonFields::Get(const char* name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::Fail(ApiError error) {
  if (!error_) error_ = std::move(error);
  return false;
}

bool JsonFields::WrongType(const std::string& name, const char* expected,
                           const nlohmann::json& value) {
  return Fail(InvalidRequest(absl::StrCat("Invalid type for '", name, "': expected ", expected,
                                          ", but got ", JsonTypeName(value), " instead."),
                             name, "invalid_type"));
}

bool JsonFields::Float(const char* name, double min, double max, float& out, bool min_exclusive) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  if (!v->is_number()) return WrongType(name, "a number", *v);
  const double x = v->get<double>();
  const bool in_range = std::isfinite(x) && (min_exclusive ? x > min : x >= min) && x <= max;
  if (!in_range) {
    return Fail(
        InvalidRequest(absl::StrCat("Invalid '", name, "': must be in ", min_exclusive ? "(" : "[",
                                    Number(min), ", ", Number(max), "], got ", Number(x), "."),
                       name, "invalid_value"));
  }
  out = static_cast<float>(x);
  return true;
}

bool JsonFields::Int(const char* name, int64_t min, int64_t max, int& out) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  if (!v->is_number_integer()) return WrongType(name, "an integer", *v);
  const bool fits =
      !v->is_number_unsigned() || v->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
  if (!fits || v->get<int64_t>() < min || v->get<int64_t>() > max) {
    return Fail(InvalidRequest(absl::StrCat("Invalid '", name, "': must be in [", min, ", ", max,
                                            "], got ", v->dump(), "."),
                               name, "invalid_value"));
  }
  out = static_cast<int>(v->get<int64_t>());
  return true;
}

bool JsonFields::Uint64(const char* name, std::optional<uint64_t>& out) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  if (!v->is_number_integer()) return WrongType(name, "an integer", *v);
  // OpenAI accepts negative seeds; keep their bits.
  out = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
  return true;
}

bool JsonFields::Bool(const char* name, bool& out) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  if (!v->is_boolean()) return WrongType(name, "a boolean", *v);
  out = v->get<bool>();
  return true;
}

bool JsonFields::String(const char* name, std::string& out) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  if (!v->is_string()) return WrongType(name, "a string", *v);
  out = v->get<std::string>();
  return true;
}

bool JsonFields::StringOrList(const char* name, size_t max_items, std::vector<std::string>& out) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  std::vector<std::string> items;
  if (v->is_string()) {
    items.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const nlohmann::json& item : *v) {
      if (!item.is_string()) return WrongType(name, "a string or an array of strings", item);
      items.push_back(item.get<std::string>());
    }
  } else {
    return WrongType(name, "a string or an array of strings", *v);
  }
  if (items.size() > max_items) {
    return Fail(InvalidRequest(absl::StrCat("Invalid '", name, "': at most ", max_items,
                                            " items are allowed, got ", items.size(), "."),
                               name, "invalid_value"));
  }
  for (const std::string& s : items) {
    if (s.empty()) {
      return Fail(InvalidRequest(absl::StrCat("Invalid '", name, "': strings must not be empty."),
                                 name, "invalid_value"));
    }
  }
  out = std::move(items);
  return true;
}

bool JsonFields::IntList(const char* name, int64_t min, int64_t max, std::vector<int32_t>& out) {
  if (!ok()) return false;
  const nlohmann::json* v = Get(name);
  if (v == nullptr) return true;
  if (!v->is_array()) return WrongType(name, "an array of integers", *v);
  std::vector<int32_t> items;
  for (const nlohmann::json& item : *v) {
    if (!item.is_number_integer()) return WrongType(name, "an array of integers", item);
    const bool fits =
        !item.is_number_unsigned() || item.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    const bool in_range = fits && item.get<int64_t>() >= min && item.get<int64_t>() <= max;
    if (!in_range) {
      return Fail(InvalidRequest(
          absl::StrCat("Invalid '", name, "': ", item.dump(), " is not in [", min, ", ", max, "]."),
          name, "invalid_value"));
    }
    items.push_back(static_cast<int32_t>(item.get<int64_t>()));
  }
  out = std::move(items);
  return true;
}

}  // namespace junction::server
