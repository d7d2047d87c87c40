#!/usr/bin/env python3
"""Peers for bench/cuda_attention_bench.cc: PyTorch SDPA (FlashAttention-2 and cuDNN backends).

Same shapes and units as junction-bench cuda_attention_prefill / cuda_attention_decode:
prefill causal, d=128, 16 heads, 16k total tokens (TFLOP/s); decode batch 64, GQA 32/8, d=128
(K/V bytes read per second). Prints one line per measurement; --out appends them to a file.
"""
import argparse
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
import torch.nn.functional as F

BACKENDS = {"fa2": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}


def median_ms(fn, reps=20):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def prefill(name, backend, emit):
    for seq in (1024, 4096, 16384):
        batch, heads, d = 16384 // seq, 16, 128
        q, k, v = (torch.randn(batch, heads, seq, d, device="cuda", dtype=torch.bfloat16)
                   for _ in range(3))
        try:
            with sdpa_kernel(backend):
                ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        except RuntimeError as e:
            emit(f"{name} prefill seq={seq} failed: {str(e).splitlines()[0]}")
            continue
        flops = 4.0 * batch * heads * seq * seq / 2 * d
        emit(f"{name} prefill seq={seq} batch={batch} ms={ms:.3f} tflops={flops / ms / 1e9:.1f}")


def decode(name, backend, emit):
    for context in (1024, 8192, 32768):
        batch, hq, hkv, d = 64, 32, 8, 128
        q = torch.randn(batch, hq, 1, d, device="cuda", dtype=torch.bfloat16)
        k, v = (torch.randn(batch, hkv, context, d, device="cuda", dtype=torch.bfloat16)
                for _ in range(2))
        try:
            with sdpa_kernel(backend):
                ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
        except RuntimeError as e:
            emit(f"{name} decode context={context} failed: {str(e).splitlines()[0]}")
            continue
        kv_bytes = batch * context * hkv * d * 2 * 2
        emit(f"{name} decode context={context} ms={ms:.3f} kv_tbps={kv_bytes / ms / 1e9:.2f}")
        del k, v
        torch.cuda.empty_cache()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args = parser.parse_args()
    out = open(args.out, "a") if args.out else None

    def emit(line):
        print(line, flush=True)
        if out:
            out.write(line + "\n")

    emit(f"peer device {torch.cuda.get_device_name()} torch {torch.__version__}")
    for name, backend in BACKENDS.items():
        prefill(name, backend, emit)
        decode(name, backend, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
