// "cuda.path": PaTH attention (fla path_attn, with or without the forget gate) on sm_80+ GPUs
// over its own paged K/V (+ forget sums); keys are rewritten every step, so its blocks are never
// shared between requests.
#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/path_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

class CudaPathBackend : public MixerBackend {
 public:
  CudaPathBackend() {
    descriptor_.name = "cuda.path";
    descriptor_.kind = MixerKind::kPath;
    descriptor_.device_class = DeviceClass::kCuda;
    descriptor_.min_cuda_sm = 80;
    descriptor_.head_dims = {64, 128};
    descriptor_.dtypes = {DType::kBF16};
    descriptor_.window_policy = false;
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto* spec = std::get_if<PathSpec>(&mixer.params);
    if (spec == nullptr) return "not a PaTH layer";
    if (!PathHeadDimSupported(spec->head_dim))
      return absl::StrCat("head_dim ", spec->head_dim, " has no kernel (64, 128)");
    if (spec->num_kv_heads <= 0 || spec->num_heads % spec->num_kv_heads != 0)
      return "num_heads must be a positive multiple of num_kv_heads";
    if (spec->num_heads / spec->num_kv_heads > kPathMaxGroup)
      return absl::StrCat("more than ", kPathMaxGroup, " query heads per kv head");
    if (spec->w_shortconv && (spec->conv_kernel < 1 || spec->conv_kernel > 9))
      return "w conv kernel must be in [1, 9]";
    return "";
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    ASSIGN_OR_RETURN(CudaContext * cuda, CudaContext::Default());
    ASSIGN_OR_RETURN(std::unique_ptr<CudaPathLayer> layer, CudaPathLayer::Create(context, cuda));
    return std::unique_ptr<MixerLayer>(std::move(layer));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakeCudaPathBackend() { return std::make_unique<CudaPathBackend>(); }

}  // namespace junction::cuda
