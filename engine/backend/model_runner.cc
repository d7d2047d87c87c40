#include "engine/backend/model_runner.h"

#include "absl/strings/str_cat.h"

namespace junction {

absl::Status ModelRunner::ForwardAndSample(const StepBatch&, std::span<const RowSampling>,
                                           std::vector<TokenId>&, std::vector<float>&) {
  return absl::UnimplementedError(absl::StrCat("the model runner on device '", device().name, "' (",
                                               spec().architecture,
                                               ") does not sample on the device"));
}

}  // namespace junction
