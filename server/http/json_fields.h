// Typed, range-checked reads of request JSON fields with OpenAI-style error messages. The first
// problem is kept (param = the field name); later reads become no-ops that return false.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/http/api_error.h"

namespace junction::server {

// Parses an HTTP body as a JSON object: malformed JSON, invalid UTF-8 or a non-object body are
// 400s. Never throws.
std::optional<ApiError> ParseJsonObject(std::string_view body, nlohmann::json& out);

class JsonFields {
 public:
  explicit JsonFields(const nlohmann::json& object) : object_(object) {}

  // The field, or nullptr when it is absent or null (null means "default", as in OpenAI's API).
  const nlohmann::json* Get(const char* name) const;

  // Each reader leaves `out` unchanged when the field is absent or null, returns false after
  // recording an error for a wrong type or a value out of range. Bounds are inclusive unless
  // `min_exclusive`.
  bool Float(const char* name, double min, double max, float& out, bool min_exclusive = false);
  bool Int(const char* name, int64_t min, int64_t max, int& out);
  bool Uint64(const char* name, std::optional<uint64_t>& out);
  bool Bool(const char* name, bool& out);
  bool String(const char* name, std::string& out);
  // A string or an array of at most `max_items` non-empty strings.
  bool StringOrList(const char* name, size_t max_items, std::vector<std::string>& out);
  // An array of integers in [min, max].
  bool IntList(const char* name, int64_t min, int64_t max, std::vector<int32_t>& out);

  bool ok() const { return !error_.has_value(); }
  const std::optional<ApiError>& error() const { return error_; }
  // Records `error` unless one is already recorded; returns false.
  bool Fail(ApiError error);
  bool WrongType(const std::string& name, const char* expected, const nlohmann::json& value);

 private:
  const nlohmann::json& object_;
  std::optional<ApiError> error_;
};

// "a string", "a number", ... for messages.
std::string JsonTypeName(const nlohmann::json& value);

}  // namespace junction::server
