// "cuda.gated_deltanet": Gated DeltaNet (Qwen3.5 linear attention, fla gated_deltanet) on sm_80+
// GPUs: chunked WY/UT prefill on tensor cores, fused recurrent decode, fp32 state slots.
#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/gated_deltanet_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

class GatedDeltaNetBackend : public MixerBackend {
 public:
  GatedDeltaNetBackend() {
    descriptor_.name = "cuda.gated_deltanet";
    descriptor_.kind = MixerKind::kGatedDeltaNet;
    descriptor_.device_class = DeviceClass::kCuda;
    descriptor_.min_cuda_sm = 80;
    descriptor_.dtypes = {DType::kBF16};
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto* spec = std::get_if<GatedDeltaNetSpec>(&mixer.params);
    if (spec == nullptr) return "not a Gated DeltaNet layer";
    if (spec->num_key_heads <= 0 || spec->num_value_heads % spec->num_key_heads != 0)
      return "value heads must be a positive multiple of key heads";
    if (!GdnSupportsDims(spec->head_k_dim, spec->head_v_dim))
      return absl::StrCat("head dims (k ", spec->head_k_dim, ", v ", spec->head_v_dim,
                          ") not supported: (16,16) (32,32) (32,64) (64,64) (64,128) (128,128)");
    if (spec->conv_kernel < 1 || spec->conv_kernel > 8) return "conv kernel must be in [1, 8]";
    return "";
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    ASSIGN_OR_RETURN(CudaContext * cuda, CudaContext::Default());
    ASSIGN_OR_RETURN(std::unique_ptr<CudaGatedDeltaNetLayer> layer,
                     CudaGatedDeltaNetLayer::Create(context, cuda));
    return std::unique_ptr<MixerLayer>(std::move(layer));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakeCudaGatedDeltaNetBackend() {
  return std::make_unique<GatedDeltaNetBackend>();
}

}  // namespace junction::cuda
