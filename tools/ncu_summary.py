#!/usr/bin/env python3
"""Sums Nsight Compute's gpu__time_duration per kernel name (scripts/device-profile's CSV).

Steps are counted by the embedding kernel, which runs once per forward step, so the table shows
GPU time per step next to each kernel's share.
"""
import csv
import sys
from collections import defaultdict


def short(name):
    name = name.split("(")[0]
    for prefix in ("void ", "junction::cuda::", "(anonymous namespace)::"):
        name = name.replace(prefix, "")
    return name[:70]


def main(path):
    rows = []
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        rows.append((short(row["Kernel Name"]), float(row["Metric Value"].replace(",", "")), row.get("Grid Size", "")))
    if not rows:
        print("no kernel rows in", path)
        return 1
    steps = max(1, sum(1 for name, _, _ in rows if "mbedding" in name))
    total = defaultdict(float)
    count = defaultdict(int)
    for name, ns, _ in rows:
        total[name] += ns
        count[name] += 1
    all_ns = sum(total.values())
    print(f"{len(rows)} kernels, {steps} steps (embedding launches), "
          f"{all_ns / 1e6:.3f} ms GPU time, {all_ns / steps / 1e6:.3f} ms per step")
    print(f"{'kernel':70} {'per step':>9} {'us/step':>9} {'share':>6}")
    for name in sorted(total, key=total.get, reverse=True):
        print(f"{name:70} {count[name] / steps:9.1f} {total[name] / steps / 1e3:9.1f} "
              f"{100 * total[name] / all_ns:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
