#include "backends/cuda/random_weights.h"

#include <mutex>

#include "absl/container/flat_hash_map.h"

namespace junction::cuda {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex mutex;
  return mutex;
}
// Live random sources by address (removed when the last shared_ptr goes).
absl::flat_hash_map<const WeightStore*, uint64_t>& Registry() {
  static auto* registry = new absl::flat_hash_map<const WeightStore*, uint64_t>();
  return *registry;
}

}  // namespace

std::shared_ptr<const WeightStore> MakeRandomWeightSource(uint64_t seed) {
  std::unique_ptr<WeightStore> store = WeightStore::FromFloatTensors({});
  const WeightStore* key = store.get();
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry()[key] = seed;
  }
  return std::shared_ptr<const WeightStore>(store.release(), [](const WeightStore* s) {
    {
      std::lock_guard<std::mutex> lock(RegistryMutex());
      Registry().erase(s);
    }
    delete s;
  });
}

std::optional<uint64_t> RandomWeightSeed(const WeightStore& weights) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto it = Registry().find(&weights);
  if (it == Registry().end()) return std::nullopt;
  return it->second;
}

}  // namespace junction::cuda
