#include "server/auth.h"

#include <algorithm>
#include <cctype>

namespace junction::server {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool ApiKeyChecker::Allows(std::string_view authorization) const {
  if (key_.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() < kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char x, char y) { return std::tolower(x) == std::tolower(y); })) {
    return false;
  }
  return ConstantTimeEquals(authorization.substr(kBearer.size()), key_);
}

}  // namespace junction::server
