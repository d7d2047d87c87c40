#include <omp.h>

#include "backends/cpu/cpu_backends.h"

namespace junction::cpu {

// One factory per CPU backend, each defined in its <name>_backend.cc.
std::unique_ptr<MixerBackend> MakeFlashBackend();
std::unique_ptr<MixerBackend> MakeWindowBackend();
std::unique_ptr<MixerBackend> MakeMamba2Backend();
std::unique_ptr<MixerBackend> MakeGatedDeltaNetBackend();
std::unique_ptr<MixerBackend> MakePathBackend();

void RegisterCpuBackends(BackendRegistry& registry) {
  registry.Register(MakeFlashBackend());
  registry.Register(MakeWindowBackend());
  registry.Register(MakeMamba2Backend());
  registry.Register(MakeGatedDeltaNetBackend());
  registry.Register(MakePathBackend());
}

void SetCpuThreads(int num_threads) {
  if (num_threads > 0) omp_set_num_threads(num_threads);
}

}  // namespace junction::cpu
