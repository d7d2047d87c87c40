// WeightStore: every tensor of a model directory (model.safetensors, or shards listed in
// model.safetensors.index.json), mmapped, looked up by name.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/model/safetensors.h"

namespace junction {

class WeightStore {
 public:
  // Opens `dir`. Errors name the file at fault. Not thread-safe for loading; lookups are.
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& dir);

  // Builds a store from in-memory tensors (tests, random-weight benchmarks). Takes ownership.
  static std::unique_ptr<WeightStore> FromFloatTensors(
      std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>>
          tensors);

  bool Contains(const std::string& name) const { return tensors_.contains(name); }
  absl::StatusOr<TensorView> Get(const std::string& name) const;

  // The tensor as float32 with exactly `shape` (an error names the tensor and both shapes).
  // Points into the mapping when the file stores aligned F32, otherwise into a converted copy
  // owned by the store. Valid for the store's lifetime. Thread-safe.
  absl::StatusOr<const float*> GetF32(const std::string& name,
                                      const std::vector<int64_t>& shape) const;

  const std::string& dir() const { return dir_; }
  std::vector<std::string> Names() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  absl::flat_hash_map<std::string, TensorView> tensors_;
  mutable std::mutex converted_mutex_;
  mutable std::deque<std::vector<float>> converted_;
};

}  // namespace junction
