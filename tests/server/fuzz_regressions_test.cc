// Replays fuzz/corpus/http_request/ and fuzz/regressions/http_request/ through the HTTP fuzz
// target's entry point (fuzz/http_request_target.h): OpenAI bodies -> ParseCompletionRequest.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "fuzz/http_request_target.h"
#include "fuzz/regression_inputs.h"

namespace junction::server {

TEST_CASE("fuzz regressions: OpenAI request bodies", "[fuzz][server]") {
  const auto inputs =
      fuzz::RegressionInputs(std::string(JUNCTION_TEST_DATA_DIR) + "/..", "http_request");
  REQUIRE(inputs.size() >= 5);
  for (const fuzz::RegressionInput& input : inputs) {
    INFO(input.path);
    CHECK(fuzz::HttpRequestTarget(reinterpret_cast<const uint8_t*>(input.bytes.data()),
                                  input.bytes.size()));
  }
}

}  // namespace junction::server
