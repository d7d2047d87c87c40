#include <omp.h>

#include "backends/cpu/cpu_backends.h"

namespace junction::cpu {

std::unique_ptr<MixerBackend> MakeFlashBackend();

void RegisterCpuBackends(BackendRegistry& registry) {
  registry.Register(MakeFlashBackend());
}

void SetCpuThreads(int num_threads) {
  if (num_threads > 0) omp_set_num_threads(num_threads);
}

}  // namespace junction::cpu
