// Kernel launches of the forward pass. With programmatic dependent launch on (sm_90;
// JUNCTION_CUDA_PDL=1, read by CudaContext), each kernel is launched as a programmatic dependent
// of the kernel before it on the stream: its CTAs are scheduled while that kernel finishes
// instead of after it, to hide part of the launch gap between the short kernels of a decode
// step. Off by default: with the skinny GEMMs alone it gained 2.6 % at batch 1 (8B shape, H200),
// but with every kernel it lost 3.5 % (H100), both 2026-12-06 (docs/performance.md).
//
// The rule that keeps this correct: every kernel launched through LaunchKernel starts with
// DependentKernelPrologue() (cuda_types.cuh), which waits for the kernels before it to complete
// before any of its threads touches global memory.
#pragma once

#include <cuda_runtime.h>

namespace junction::cuda {

void SetProgrammaticLaunch(bool on);
bool ProgrammaticLaunch();

// Launches `kernel`, as a programmatic dependent of the kernel before it on the stream when
// `programmatic` (ignored before sm_90).
template <typename... Params, typename... Args>
void LaunchKernelWith(bool programmatic, void (*kernel)(Params...), dim3 grid, dim3 block,
                      size_t smem, cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attribute = {};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = programmatic ? 1 : 0;
  cudaLaunchKernelEx(&config, kernel, args...);
}

template <typename... Params, typename... Args>
void LaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                  cudaStream_t stream, Args... args) {
  LaunchKernelWith(ProgrammaticLaunch(), kernel, grid, block, smem, stream, args...);
}

}  // namespace junction::cuda
