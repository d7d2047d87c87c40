// Optional bearer API key (--api-key). Compared in constant time so response timing does not
// reveal how much of a guess was right.
#pragma once

#include <string>
#include <string_view>

namespace junction::server {

class ApiKeyChecker {
 public:
  explicit ApiKeyChecker(std::string key) : key_(std::move(key)) {}

  bool enabled() const { return !key_.empty(); }
  // `authorization` is the Authorization header (HTTP) or metadata value (gRPC), e.g.
  // "Bearer sk-...". Always true when no key is configured.
  bool Allows(std::string_view authorization) const;

 private:
  std::string key_;
};

// Equal lengths and bytes; time depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace junction::server
