// "cuda.window": softmax attention restricted to a sliding window (+ global sink tokens) over
// paged KV on sm_80+ GPUs, for layers a model trained with a window (Mistral, Qwen sliding
// layers). It shares CudaAttentionLayer (and the flash kernels, whose tiles then cover only the
// window's and the sinks' keys) with "cuda.flash"; both serve AttentionPolicy::kWindow requests.
#include "backends/cuda/attention_layer.h"
#include "backends/cuda/cuda_backends.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

class WindowBackend : public MixerBackend {
 public:
  WindowBackend() {
    descriptor_.name = "cuda.window";
    descriptor_.kind = MixerKind::kSlidingWindow;
    descriptor_.device_class = DeviceClass::kCuda;
    descriptor_.min_cuda_sm = 80;
    descriptor_.head_dims = {16, 64, 128};  // the flash kernels' head dims
    descriptor_.dtypes = {DType::kBF16};
    descriptor_.window_policy = true;
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto* spec = std::get_if<AttentionSpec>(&mixer.params);
    if (spec == nullptr) return "needs attention parameters";
    if (spec->sliding_window <= 0) return "the layer has no sliding window";
    if (spec->num_kv_heads <= 0 || spec->num_heads % spec->num_kv_heads != 0)
      return "num_heads must be a multiple of num_kv_heads";
    if (spec->rope.rotary_dim % 2 != 0 || spec->rope.rotary_dim > spec->head_dim)
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

std::unique_ptr<MixerBackend> MakeCudaWindowBackend() { return std::make_unique<WindowBackend>(); }

}  // namespace junction::cuda
