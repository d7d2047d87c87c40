// Random weights for models with no checkpoint (benchmarks at full size, e.g. a Llama-3-8B
// shape): no file and no host copy; every matrix is generated on the device at load time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "engine/model/weight_store.h"

namespace junction::cuda {

// An empty WeightStore that the CUDA loaders (UploadStacked / UploadF32) recognise: instead of
// looking tensors up they generate them on the device. Matrices [rows, cols] get values uniform
// with standard deviation 1/sqrt(cols) (activations stay O(1) through every projection), each
// tensor from its own seed (the run's seed and the tensor's name); float32 vectors named like
// norm weights are 1, other float32 vectors (biases) 0. Tensors read by other means (GetF32 on
// the store) do not exist: the CPU backends cannot use this source.
std::shared_ptr<const WeightStore> MakeRandomWeightSource(uint64_t seed = 0);

// The seed when `weights` came from MakeRandomWeightSource, else nullopt.
std::optional<uint64_t> RandomWeightSeed(const WeightStore& weights);

}  // namespace junction::cuda
