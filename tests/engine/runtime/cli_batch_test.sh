#!/usr/bin/env bash
# junction-cli --batch: every line runs concurrently, output comes back in input order with ids
# and the plan; greedy ids match a one-prompt run; bad lines and prompt lines fail clearly.
# usage: cli_batch_test.sh JUNCTION_CLI MODEL_DIR
set -euo pipefail
cli="$1"
model="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/in.jsonl" <<'JSONL'
{"ids": [1, 5, 9, 200, 17], "max_tokens": 6, "temperature": 0}
{"ids": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], "max_tokens": 4, "temperature": 0}

{"ids": [42], "max_tokens": 5, "temperature": 0.8, "seed": 11}
JSONL
"$cli" --model "$model" --device cpu --batch "$work/in.jsonl" --ignore-eos --max-seqs 4 \
  --max-batched-tokens 8 --kv-memory 2M > "$work/out.jsonl"

python3 - "$work/out.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 3, lines
assert [l["line"] for l in lines] == [1, 2, 4], lines
for l, n in zip(lines, [6, 4, 5]):
    assert len(l["ids"]) == n, l
    assert l["finish_reason"] == "length", l
    assert l["plan"]["attention_policy"] == "full", l
    assert l["plan"]["layers"][0]["backend"] == "cpu.flash", l
print("batch output ok")
PY

# Greedy ids of line 1 equal a plain one-prompt run.
single="$("$cli" --model "$model" --device cpu --ids 1,5,9,200,17 --max-tokens 6 --temperature 0 --ignore-eos)"
batch="$(python3 -c 'import json,sys; print(",".join(map(str, json.loads(open(sys.argv[1]).readline())["ids"])))' "$work/out.jsonl")"
[[ "$single" == "$batch" ]] || { echo "batch ids $batch != single-run ids $single"; exit 1; }

# A text prompt line is refused with a clear message; so is a bad engine flag.
echo '{"prompt": "hello"}' > "$work/text.jsonl"
if "$cli" --model "$model" --device cpu --batch "$work/text.jsonl" 2> "$work/err.txt"; then
  echo "a text prompt line should fail"; exit 1
fi
grep -q "tokenizer" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
if "$cli" --model "$model" --device cpu --batch "$work/in.jsonl" --kv-memory lots 2> "$work/err.txt"; then
  echo "a bad --kv-memory should fail"; exit 1
fi
grep -q -- "--kv-memory" "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
# With a tokenizer, text prompts run and the output carries text.
tokenizer="$(cd "$(dirname "$0")/../.." && pwd)/data/e2e_model_tokenizer"
printf '{"prompt": "hello"}\n{"ids": [104, 105]}\n' > "$work/text.jsonl"
"$cli" --model "$model" --tokenizer "$tokenizer" --batch "$work/text.jsonl" --max-tokens 4 \
  --temperature 0 > "$work/text_out.jsonl"
python3 - "$work/text_out.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2 and all(len(l["ids"]) == 4 and isinstance(l["text"], str) for l in lines), lines
assert lines[0]["usage"]["prompt_tokens"] == 5, lines[0]
PY
echo "cli batch test passed"
