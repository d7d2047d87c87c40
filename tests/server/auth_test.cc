#include "server/auth.h"

#include <catch2/catch.hpp>

namespace junction::server {

TEST_CASE("the API key accepts exactly Bearer KEY", "[server]") {
  ApiKeyChecker checker("sk-secret");
  CHECK(checker.enabled());
  CHECK(checker.Allows("Bearer sk-secret"));
  CHECK(checker.Allows("bearer sk-secret"));
  CHECK_FALSE(checker.Allows("Bearer sk-secre"));
  CHECK_FALSE(checker.Allows("Bearer sk-secret2"));
  CHECK_FALSE(checker.Allows("sk-secret"));
  CHECK_FALSE(checker.Allows(""));
  CHECK_FALSE(checker.Allows("Basic sk-secret"));
}

TEST_CASE("no key configured allows everything", "[server]") {
  ApiKeyChecker checker("");
  CHECK_FALSE(checker.enabled());
  CHECK(checker.Allows(""));
}

TEST_CASE("ConstantTimeEquals compares lengths and bytes", "[server]") {
  CHECK(ConstantTimeEquals("", ""));
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "ab"));
  CHECK_FALSE(ConstantTimeEquals("ab", std::string_view("ab\0", 3)));
}

}  // namespace junction::server
