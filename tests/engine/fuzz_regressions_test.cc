// Replays the fuzz targets' seed corpora and every recorded finding (fuzz/regressions/<target>/)
// through the same entry points libFuzzer calls (fuzz/<target>_target.h): each input must keep
// every property the target checks. The HTTP target is in tests/server/fuzz_regressions_test.cc.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "fuzz/chat_template_target.h"
#include "fuzz/model_config_target.h"
#include "fuzz/regression_inputs.h"
#include "fuzz/safetensors_header_target.h"
#include "fuzz/safetensors_index_target.h"
#include "fuzz/tokenizer_encode_target.h"
#include "fuzz/tokenizer_json_target.h"

namespace junction {
namespace {

using TargetFn = bool (*)(const uint8_t*, size_t);

void Replay(const std::string& target, TargetFn run, size_t min_inputs) {
  const auto inputs = fuzz::RegressionInputs(std::string(JUNCTION_TEST_DATA_DIR) + "/..", target);
  REQUIRE(inputs.size() >= min_inputs);  // the seed corpus is committed
  for (const fuzz::RegressionInput& input : inputs) {
    INFO(input.path);
    CHECK(run(reinterpret_cast<const uint8_t*>(input.bytes.data()), input.bytes.size()));
  }
}

}  // namespace

TEST_CASE("fuzz regressions: safetensors header", "[fuzz]") {
  Replay("safetensors_header", fuzz::SafetensorsHeaderTarget, 5);
}

TEST_CASE("fuzz regressions: safetensors index", "[fuzz]") {
  Replay("safetensors_index", fuzz::SafetensorsIndexTarget, 5);
}

TEST_CASE("fuzz regressions: config.json", "[fuzz]") {
  Replay("model_config", fuzz::ModelConfigTarget, 10);
}

TEST_CASE("fuzz regressions: tokenizer.json", "[fuzz]") {
  Replay("tokenizer_json", fuzz::TokenizerJsonTarget, 2);
}

TEST_CASE("fuzz regressions: encode and decode", "[fuzz]") {
  Replay("tokenizer_encode", fuzz::TokenizerEncodeTarget, 10);
}

TEST_CASE("fuzz regressions: chat templates", "[fuzz]") {
  Replay("chat_template", fuzz::ChatTemplateTarget, 4);
}

}  // namespace junction
