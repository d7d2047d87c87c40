#!/usr/bin/env bash
# Device side of the harness: SASS facts of the Hopper kernels, then probes, correctness
# and timings (build-sm90/harness, built here by build.sh and carried). Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/device.txt"
cuobjdump -sass build-sm90/harness >"$OUT/harness.sass" 2>&1
awk '/Function :/ {f=$3} /HGMMA/ {h[f]++} /LDL|STL/ {l[f]++} /USETMAXREG/ {r[f]++}
     END {for (k in h) printf "%-100.100s HGMMA %d LDL/STL %d SETMAXREG %d\n", k, h[k], l[k], r[k]}' \
  "$OUT/harness.sass" | sed 's/_ZN8junction4cuda[0-9A-Za-z_]*FlashPrefillSm90Kernel/Sm90Kernel/' |
  tee "$OUT/sass-summary.txt"
timeout 300 build-sm90/harness "$@" 2>&1 | tee "$OUT/harness.log"
