#!/usr/bin/env python3
"""Validation perplexity of a bundled model through junction-cli (pure Python, stdlib only).

Reproduces the number in models/<name>/training_report.json (definition: tools/eval/perplexity.md
and docs/quality.md). For each 256-token window of the held-out ids it runs
    junction-cli --model DIR --ids <window> --dump-logits FILE
(a fresh sequence each time), scores tokens 1..255 of the window, and compares the result,
window by window, with the PyTorch reference in training_report.json.

    python3 tools/eval/perplexity.py --model models/llama --cli build/clients/cli/junction-cli
        [--ids tools/eval/tinyshakespeare_val_ids.json] [--max-windows N] [--extra-args "..."]
    python3 tools/eval/perplexity.py --model models/llama --logits-dir DIR   # pre-dumped
        (DIR/window_<k>.safetensors, k = 0, 1, ...)
"""
import argparse
import array
import json
import math
import os
import shlex
import struct
import subprocess
import sys
import tempfile

CTX = 256
HERE = os.path.dirname(os.path.abspath(__file__))


def read_logits(path):
    """The float32 tensor 'logits' [T, V] of a safetensors file, as (rows, V)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header["logits"]
    if meta["dtype"] != "F32":
        raise ValueError(f"{path}: logits dtype {meta['dtype']}, expected F32")
    T, V = meta["shape"]
    begin, end = meta["data_offsets"]
    vals = array.array("f")
    vals.frombytes(data[begin:end])
    if sys.byteorder != "little":
        vals.byteswap()
    return [vals[i * V:(i + 1) * V] for i in range(T)], V


def window_nll(rows, window):
    """Summed NLL (nats) of window[1:] given the logits rows[0:T-1] (row i predicts token i+1)."""
    total = 0.0
    for i in range(len(window) - 1):
        row = rows[i]
        m = max(row)
        lse = m + math.log(math.fsum(math.exp(x - m) for x in row))
        total += lse - row[window[i + 1]]
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--cli", help="path to junction-cli")
    ap.add_argument("--logits-dir", help="score pre-dumped window_<k>.safetensors instead")
    ap.add_argument("--ids", default=os.path.join(HERE, "tinyshakespeare_val_ids.json"))
    ap.add_argument("--max-windows", type=int, default=0, help="0 = all windows")
    ap.add_argument("--extra-args", default="", help="more junction-cli flags, e.g. --threads 4")
    a = ap.parse_args()
    if not a.cli and not a.logits_dir:
        ap.error("give --cli or --logits-dir")

    ids = json.load(open(a.ids))
    n = len(ids) // CTX
    if a.max_windows:
        n = min(n, a.max_windows)
    report_path = os.path.join(a.model, "training_report.json")
    ref = json.load(open(report_path)) if os.path.exists(report_path) else None
    ref_win = ref["val_nll_per_window"] if ref else None

    total, worst = 0.0, (0.0, -1)
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n):
            window = ids[k * CTX:(k + 1) * CTX]
            if a.logits_dir:
                path = os.path.join(a.logits_dir, f"window_{k}.safetensors")
            else:
                path = os.path.join(tmp, "logits.safetensors")
                cmd = [a.cli, "--model", a.model, "--ids", ",".join(map(str, window)),
                       "--dump-logits", path] + shlex.split(a.extra_args)
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            rows, _ = read_logits(path)
            if len(rows) != CTX:
                raise ValueError(f"window {k}: {len(rows)} logits rows, expected {CTX}")
            nll = window_nll(rows, window)
            total += nll
            if ref_win:
                d = abs(nll - ref_win[k]) / (CTX - 1)
                if d > worst[0]:
                    worst = (d, k)
            print(f"window {k:4d}: nll/token {nll / (CTX - 1):.5f}"
                  + (f"  (PyTorch {ref_win[k] / (CTX - 1):.5f})" if ref_win else ""), flush=True)
    scored = n * (CTX - 1)
    ppl = math.exp(total / scored)
    out = {"model": a.model, "windows": n, "tokens_scored": scored, "perplexity": round(ppl, 4),
           "nll": round(total / scored, 6)}
    if ref and n == ref["val"]["windows"]:
        out["pytorch_perplexity"] = ref["val"]["perplexity"]
        out["relative_difference"] = round(ppl / ref["val"]["perplexity"] - 1, 6)
    if ref_win:
        out["worst_window_nll_per_token_diff"] = {"window": worst[1], "diff": round(worst[0], 6)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
