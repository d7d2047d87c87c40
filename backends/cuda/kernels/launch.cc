#include <atomic>

#include "backends/cuda/kernels/launch.cuh"

namespace junction::cuda {
namespace {

std::atomic<bool> programmatic{false};

}  // namespace

void SetProgrammaticLaunch(bool on) { programmatic.store(on, std::memory_order_relaxed); }
bool ProgrammaticLaunch() { return programmatic.load(std::memory_order_relaxed); }

}  // namespace junction::cuda
