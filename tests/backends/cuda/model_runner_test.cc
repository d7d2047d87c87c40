// Whole Llama-family models on the GPU in bf16 against the CPU float32 runner on the golden
// fixtures: logits of every prompt position, chunked prefill, and greedy decoding.
#include "tests/backends/cuda/fixture_check.h"

namespace junction::cuda::testing {
namespace {

void CheckModel(const std::string& name) {
  CheckModelOnGpu(name, {{MixerKind::kAttention, "cuda.flash"}});
}

TEST_CASE("cuda runner matches cpu: llama", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("llama");
}
TEST_CASE("cuda runner matches cpu: llama3_rope", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("llama3_rope");
}
TEST_CASE("cuda runner matches cpu: llama_yarn", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("llama_yarn");
}
TEST_CASE("cuda runner matches cpu: qwen2_bias", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("qwen2_bias");
}
TEST_CASE("cuda runner matches cpu: qwen3", "[gpu][cuda]") {
  if (HaveGpu()) CheckModel("qwen3");
}

TEST_CASE("cuda backend descriptor and rejections", "[cuda]") {
  BackendRegistry registry;
  RegisterCudaBackends(registry);
  const MixerBackend* flash = registry.Find("cuda.flash");
  REQUIRE(flash != nullptr);
  CHECK(flash->descriptor().device_class == DeviceClass::kCuda);
  CHECK(flash->descriptor().min_cuda_sm == 80);
  MixerSpec mixer;
  AttentionSpec spec;
  spec.num_heads = 32;
  spec.num_kv_heads = 8;
  spec.head_dim = 128;
  mixer.params = spec;
  DeviceInfo h100{DeviceClass::kCuda, 90, "H100"};
  DeviceInfo v100{DeviceClass::kCuda, 70, "V100"};
  DeviceInfo cpu{DeviceClass::kCpu, 0, "cpu"};
  CHECK(flash->Rejects(mixer, h100).empty());
  CHECK_FALSE(flash->Rejects(mixer, v100).empty());
  CHECK_FALSE(flash->Rejects(mixer, cpu).empty());
  spec.head_dim = 96;
  mixer.params = spec;
  CHECK_FALSE(flash->Rejects(mixer, h100).empty());
  spec.head_dim = 128;
  spec.sliding_window = 4096;
  mixer.params = spec;
  CHECK_FALSE(flash->Rejects(mixer, h100).empty());
  // Without a device, the query reports it instead of crashing.
  auto device = QueryCudaDevice();
  if (!device.ok()) CHECK(device.status().code() == absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace junction::cuda::testing
