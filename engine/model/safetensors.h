// Safetensors files, memory-mapped and validated as the reference implementation does:
// header <= 100,000,000 bytes, data offsets contiguous from 0 and inside the file, byte size =
// dtype size x shape product (overflow checked), dtypes F32 / BF16 / F16.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/common/dtype.h"

namespace junction {

// A read-only view of one stored tensor. `data` points into a mapping that lives as long as the
// SafetensorsFile (or WeightStore) that produced it.
struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  int64_t num_elements() const;
};

class SafetensorsFile {
 public:
  // Maps `path` and validates its header. Errors name the file and, where one is at fault, the
  // tensor. Thread-safe after construction (read-only).
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses and validates a header against a file of `file_size` bytes, without mapping; exposed
  // for tests and fuzzing. `bytes` is the whole file prefix (8-byte length + JSON header).
  static absl::StatusOr<std::map<std::string, TensorView>> ParseHeader(const std::string& name,
                                                                       const uint8_t* bytes,
                                                                       uint64_t file_size);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* mapping_ = nullptr;
  uint64_t mapping_bytes_ = 0;
  std::map<std::string, TensorView> tensors_;
};

// Writes tensors as a safetensors file (float32 only); used by --dump-logits and tests.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};
absl::Status WriteSafetensorsF32(const std::string& path, const std::vector<NamedTensor>& tensors);

}  // namespace junction
