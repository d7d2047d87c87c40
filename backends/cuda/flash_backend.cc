// "cuda.flash": softmax attention over paged KV on sm_80+ GPUs: full causal, Qwen3.5's output
// gate, and StreamingLLM requests (AttentionPolicy::kWindow: sinks + window) like cpu.flash.
#include "absl/strings/str_cat.h"
#include "backends/cuda/attention_layer.h"
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/kernels/flash_attention.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

class FlashBackend : public MixerBackend {
 public:
  FlashBackend() {
    descriptor_.name = "cuda.flash";
    descriptor_.kind = MixerKind::kAttention;
    descriptor_.device_class = DeviceClass::kCuda;
    descriptor_.min_cuda_sm = 80;
    // 64 and 128 are the production head dims; 16 serves the small test fixtures.
    descriptor_.head_dims = {16, 64, 128};
    descriptor_.dtypes = {DType::kBF16};
    descriptor_.window_policy = true;  // StreamingLLM sinks + window on full-attention layers
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto& spec = std::get<AttentionSpec>(mixer.params);
    if (spec.sliding_window > 0) return "sliding-window layers need a window backend";
    if (spec.num_kv_heads <= 0 || spec.num_heads % spec.num_kv_heads != 0)
      return "num_heads must be a multiple of num_kv_heads";
    if (spec.rope.rotary_dim % 2 != 0 || spec.rope.rotary_dim > spec.head_dim)
      return "rotary_dim must be even and at most head_dim";
    return "";
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    ASSIGN_OR_RETURN(CudaContext * cuda, CudaContext::Default());
    ASSIGN_OR_RETURN(std::unique_ptr<CudaAttentionLayer> layer,
                     CudaAttentionLayer::Create(context, cuda, DType::kBF16,
                                                descriptor_.window_policy));
    return std::unique_ptr<MixerLayer>(std::move(layer));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

void RegisterCudaBackends(BackendRegistry& registry) {
  registry.Register(std::make_unique<FlashBackend>());
  registry.Register(MakeCudaWindowBackend());
  registry.Register(MakeCudaMamba2Backend());
  registry.Register(MakeCudaPathBackend());
  // Judged on the trained bundled gdn_hybrid; the random GDN fixtures miss the whole-model bar
  // with bf16 activations on any backend (docs/cuda-notes.md).
  registry.Register(MakeCudaGatedDeltaNetBackend());
}

}  // namespace junction::cuda
