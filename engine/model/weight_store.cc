#include "engine/model/weight_store.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace junction {
namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::Open(const std::string& dir) {
  auto store = std::make_unique<WeightStore>();
  store->dir_ = dir;
  std::vector<std::string> shard_names;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    std::ifstream in(index_path);
    nlohmann::json index = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object())
      return absl::InvalidArgumentError(
          absl::StrCat(index_path.string(), ": not a valid index (needs a weight_map object)"));
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : index["weight_map"].items()) {
      if (!shard.is_string())
        return absl::InvalidArgumentError(
            absl::StrCat(index_path.string(), ": weight_map entry '", tensor, "' is not a string"));
      const std::string name = shard.get<std::string>();
      if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
        return absl::InvalidArgumentError(
            absl::StrCat(index_path.string(), ": shard name '", name, "' leaves the directory"));
      shards.insert(name);
    }
    shard_names.assign(shards.begin(), shards.end());
  } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no model.safetensors or model.safetensors.index.json"));
  }
  for (const std::string& shard : shard_names) {
    ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open((fs::path(dir) / shard).string()));
    for (const auto& [name, view] : file->tensors()) {
      if (!store->tensors_.emplace(name, view).second)
        return absl::InvalidArgumentError(
            absl::StrCat(file->path(), ": tensor '", name, "' also appears in another shard"));
    }
    store->files_.push_back(std::move(file));
  }
  return store;
}

std::unique_ptr<WeightStore> WeightStore::FromFloatTensors(
    std::vector<std::pair<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>>
        tensors) {
  auto store = std::make_unique<WeightStore>();
  store->dir_ = "<memory>";
  for (auto& [name, shaped] : tensors) {
    store->converted_.push_back(std::move(shaped.second));
    TensorView view{DType::kF32, shaped.first, store->converted_.back().data()};
    store->tensors_[name] = view;
  }
  return store;
}

absl::StatusOr<TensorView> WeightStore::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return absl::NotFoundError(absl::StrCat(dir_, ": missing weight '", name, "'"));
  return it->second;
}

absl::StatusOr<const float*> WeightStore::GetF32(const std::string& name,
                                                 const std::vector<int64_t>& shape) const {
  ASSIGN_OR_RETURN(TensorView view, Get(name));
  if (view.shape != shape)
    return absl::InvalidArgumentError(absl::StrCat(
        dir_, ": weight '", name, "' has shape [", absl::StrJoin(view.shape, ", "),
        "], expected [", absl::StrJoin(shape, ", "), "]"));
  if (view.dtype == DType::kF32 && reinterpret_cast<uintptr_t>(view.data) % alignof(float) == 0)
    return static_cast<const float*>(view.data);
  std::vector<float> copy(static_cast<size_t>(view.num_elements()));
  ConvertToFloat(view.dtype, view.data, view.num_elements(), copy.data());
  std::lock_guard<std::mutex> lock(converted_mutex_);
  converted_.push_back(std::move(copy));
  return converted_.back().data();
}

std::vector<std::string> WeightStore::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, view] : tensors_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace junction
