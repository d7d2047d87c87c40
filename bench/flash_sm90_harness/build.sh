#!/usr/bin/env bash
# Builds the harness (locally; the binary travels to the device in build-sm90/).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build-sm90
NVCC="${NVCC:-/usr/local/cuda/bin/nvcc}"
"$NVCC" -gencode=arch=compute_90a,code=sm_90a -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo \
  -Xptxas=-warn-spills -I. bench/flash_sm90_harness/harness.cu backends/cuda/kernels/flash_attention.cu \
  backends/cuda/kernels/launch.cc \
  -o build-sm90/harness "$@"
