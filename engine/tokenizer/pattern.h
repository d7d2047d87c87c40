// A tokenizer.json "pattern": {"String": "..."} (literal) or {"Regex": "..."} (PCRE2 with UTF
// and UCP, JIT-compiled). PCRE2 stays inside pattern.cc. Immutable; thread-safe (match data is
// allocated per call).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace junction {

class Pattern {
 public:
  virtual ~Pattern() = default;

  // Byte ranges [begin, end) of the non-overlapping matches in `text` (well-formed UTF-8), left
  // to right. An empty match is skipped by advancing one code point.
  virtual std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const = 0;

  std::string ReplaceAll(std::string_view text, std::string_view content) const;

  // InvalidArgument for a malformed pattern object or a regex PCRE2 rejects (with its message
  // and offset).
  static absl::StatusOr<std::unique_ptr<Pattern>> Create(const nlohmann::json& config);
  static absl::StatusOr<std::unique_ptr<Pattern>> CreateRegex(const std::string& regex);
};

}  // namespace junction
