// "cuda.mamba2": the Mamba2 (SSD) mixer on sm_80+ GPUs: chunked SSD prefill on tensor cores,
// batched in-place decode step, fp32 conv window and SSM state per request
// (backends/cuda/mamba2_layer.h).
#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_backends.h"
#include "backends/cuda/mamba2_layer.h"
#include "engine/common/status_macros.h"

namespace junction::cuda {
namespace {

class Mamba2Backend : public MixerBackend {
 public:
  Mamba2Backend() {
    descriptor_.name = "cuda.mamba2";
    descriptor_.kind = MixerKind::kMamba2;
    descriptor_.device_class = DeviceClass::kCuda;
    descriptor_.min_cuda_sm = 80;
    descriptor_.dtypes = {DType::kBF16};
  }
  const BackendDescriptor& descriptor() const override { return descriptor_; }

  std::string Rejects(const MixerSpec& mixer, const DeviceInfo& device) const override {
    std::string reason = MixerBackend::Rejects(mixer, device);
    if (!reason.empty()) return reason;
    const auto* spec = std::get_if<Mamba2Spec>(&mixer.params);
    if (spec == nullptr) return "needs Mamba2 parameters";
    return Mamba2CudaUnsupported(*spec);
  }

  absl::StatusOr<std::unique_ptr<MixerLayer>> CreateLayer(
      const LayerContext& context) const override {
    ASSIGN_OR_RETURN(CudaContext * cuda, CudaContext::Default());
    ASSIGN_OR_RETURN(std::unique_ptr<CudaMamba2Layer> layer,
                     CudaMamba2Layer::Create(context, cuda));
    return std::unique_ptr<MixerLayer>(std::move(layer));
  }

 private:
  BackendDescriptor descriptor_;
};

}  // namespace

std::unique_ptr<MixerBackend> MakeCudaMamba2Backend() { return std::make_unique<Mamba2Backend>(); }

}  // namespace junction::cuda
