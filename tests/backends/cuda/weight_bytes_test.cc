// CudaWeightBytes (what the KV-cache sizing subtracts from free device memory) against the
// fixtures' own tensors counted as the CUDA layers store them: 2-D tensors in 16 bits, the rest
// in float32. Runs without a device.
#include <catch2/catch.hpp>
#include <string>

#include "backends/cuda/cuda_backends.h"
#include "engine/model/model_config.h"
#include "engine/model/weight_store.h"
#include "tests/support/golden.h"

namespace junction::cuda::testing {
namespace {

TEST_CASE("cuda weight bytes match every fixture's tensors", "[cuda]") {
  for (const std::string name : {"llama", "qwen2_bias", "qwen3", "mistral_swa", "mamba2",
                                 "mamba2_g2", "granite_hybrid", "nemotron_h", "qwen3_5_gdn",
                                 "fla_gdn", "fla_path_fox", "fla_path_nogate"}) {
    INFO(name);
    const std::string dir = junction::testing::LoadGoldenCase(name).model_dir;
    auto spec = LoadModelSpec(dir);
    REQUIRE(spec.ok());
    auto weights = WeightStore::Open(dir);
    REQUIRE(weights.ok());
    int64_t stored = 0;
    for (const std::string& tensor : (*weights)->Names()) {
      auto view = (*weights)->Get(tensor);
      REQUIRE(view.ok());
      stored += view->num_elements() * (view->shape.size() == 2 ? 2 : 4);
    }
    const int64_t estimate = CudaWeightBytes(*spec);
    INFO("estimate " << estimate << " bytes, tensors " << stored << " bytes");
    CHECK(estimate >= stored * 0.9);
    CHECK(estimate <= stored * 1.1);
  }
}

}  // namespace
}  // namespace junction::cuda::testing
