// model.safetensors.index.json -> WeightStore::Open. The index is written into a private temp
// directory that also holds two small valid shards (a.safetensors: "x", b.safetensors: "y"), so
// well-formed indexes reach shard loading and lookups; shard names that leave the directory,
// name a missing file or a folder, or repeat a tensor must all be clean errors.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/model/safetensors.h"
#include "engine/model/weight_store.h"

namespace junction::fuzz {
namespace internal {

// A temp directory with the two shards, removed when the process exits.
class ShardDir {
 public:
  ShardDir() {
    path_ = (std::filesystem::temp_directory_path() / "junction-fuzz-XXXXXX").string();
    if (::mkdtemp(path_.data()) == nullptr) std::abort();
    const float x[4] = {1, 2, 3, 4}, y[2] = {5, 6};
    if (!junction::WriteSafetensorsF32(path_ + "/a.safetensors", {{"x", {2, 2}, x}}).ok() ||
        !junction::WriteSafetensorsF32(path_ + "/b.safetensors", {{"y", {2}, y}}).ok()) {
      std::abort();
    }
    std::filesystem::create_directory(path_ + "/folder.safetensors");
  }
  ~ShardDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline const std::string& ModelDir() {
  static const ShardDir dir;
  return dir.path();
}

}  // namespace internal

// Returns false when an accepted input breaks a property stated above.
inline bool SafetensorsIndexTarget(const uint8_t* data, size_t size) {
  const std::string& dir = internal::ModelDir();
  {
    std::ofstream index(dir + "/model.safetensors.index.json", std::ios::binary | std::ios::trunc);
    index.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto store = junction::WeightStore::Open(dir);
  if (!store.ok()) return true;
  for (const std::string& name : (*store)->Names()) {
    auto view = (*store)->Get(name);
    if (!view.ok()) return false;  // Names() promised it
    auto floats = (*store)->GetF32(name, view->shape);
    if (!floats.ok()) return false;  // both shards are aligned F32
    volatile float sink = (*floats)[view->num_elements() - 1];
    (void)sink;
  }
  return true;
}

}  // namespace junction::fuzz
