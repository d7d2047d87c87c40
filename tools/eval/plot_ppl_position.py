#!/usr/bin/env python3
"""Plot perplexity against position (CSV from `junction-bench ppl_position`) as a hand-written SVG.

Stdlib only (no matplotlib). One line per CSV label, x = position (bucket middle), y =
perplexity on a log scale, a dashed line at the trained context, a legend. With --table it
also prints a Markdown table, merging the CSV's buckets into buckets of --table-bucket
positions (token-weighted mean NLL, then exp).

    python3 tools/eval/plot_ppl_position.py --csv tools/eval/ppl_position.csv \
        --out docs/quality-ppl-position.svg [--table --table-bucket 256]
"""
import argparse
import csv
import math
import os
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

NAMES = {
    "llama_full": "llama, full attention (RoPE)",
    "llama_window": "llama, window mode (4 sinks + 252, StreamingLLM)",
    "path_fox_full": "path_fox, full attention (PaTH + forget gate, no RoPE)",
    "mistral_window_full": "mistral_window, trained sliding window 64 (RoPE)",
    "llama_256_windows": "llama, fresh 256-token windows (validation protocol; text difficulty)",
}
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
DASHES = ["", "", "", "6,3", "2,2", "8,3,2,3"]


def load(path):
    series = OrderedDict()
    with open(path) as f:
        for row in csv.DictReader(f):
            series.setdefault(row["label"], []).append(
                (int(row["bucket_start"]), int(row["bucket_end"]), int(row["tokens"]),
                 float(row["mean_nll"])))
    for rows in series.values():
        rows.sort()
    return series


def merge(rows, size):
    """Buckets of `size` positions: (start, end, tokens, mean NLL), token-weighted."""
    out = OrderedDict()
    for lo, hi, n, nll in rows:
        key = lo // size
        acc = out.setdefault(key, [key * size, 0, 0, 0.0])
        acc[1] = max(acc[1], hi)
        acc[2] += n
        acc[3] += n * nll
    return [(lo, hi, n, s / n) for lo, hi, n, s in out.values()]


def nice_log_ticks(lo, hi):
    ticks = []
    span = math.log10(hi / lo)
    mantissas = (1, 2, 5) if span > 1.5 else (1, 1.5, 2, 3, 4, 5, 6, 7, 8) if span > 0.6 else \
        (1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9)
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in mantissas:
            v = m * 10 ** e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg(series, trained_ctx, title):
    W = 820
    left, right, top, bottom = 80, 30, 50, 80 + 20 * len(series)
    H = 380 + top + bottom
    pw, ph = W - left - right, H - top - bottom
    xmax = max(hi for rows in series.values() for _, hi, _, _ in rows)
    ppls = [math.exp(nll) for rows in series.values() for *_, nll in rows]
    ylo = 10 ** (math.floor(math.log10(min(ppls)) * 4) / 4)
    yhi = 10 ** (math.ceil(math.log10(max(ppls)) * 4) / 4)
    if yhi / ylo < 3:
        ylo, yhi = ylo / 1.5, yhi * 1.5

    def X(p):
        return left + pw * p / xmax

    def Y(v):
        return top + ph * (1 - (math.log(v) - math.log(ylo)) / (math.log(yhi) - math.log(ylo)))

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15" '
         f'font-weight="bold">{esc(title)}</text>']
    # grid and y ticks (log scale)
    for v in nice_log_ticks(ylo, yhi):
        y = Y(v)
        o.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                 f'stroke="#e0e0e0"/>')
        o.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    # x ticks every 512 positions
    step = 512 if xmax > 1024 else 128
    for p in range(0, xmax + 1, step):
        x = X(p)
        o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#f0f0f0"/>')
        o.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" '
                 f'stroke="black"/>')
        o.append(f'<text x="{x:.1f}" y="{top + ph + 20}" text-anchor="middle">{p}</text>')
    # trained context marker
    x = X(trained_ctx)
    o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#555" '
             f'stroke-dasharray="4,4"/>')
    o.append(f'<text x="{x + 5:.1f}" y="{top + ph - 8}" fill="#555" font-size="12">'
             f'trained context {trained_ctx}</text>')
    # axes
    o.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
             f'stroke="black"/>')
    o.append(f'<text x="{left + pw / 2}" y="{top + ph + 40}" text-anchor="middle">position of the '
             f'predicted token (bucket middle)</text>')
    o.append(f'<text transform="translate(22,{top + ph / 2}) rotate(-90)" '
             f'text-anchor="middle">perplexity (log scale)</text>')
    # lines
    for i, (label, rows) in enumerate(series.items()):
        pts = " ".join(f"{X((lo + hi) / 2):.1f},{Y(math.exp(nll)):.1f}"
                       for lo, hi, _, nll in rows)
        dash = f' stroke-dasharray="{DASHES[i % len(DASHES)]}"' if DASHES[i % len(DASHES)] else ""
        o.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[i % len(COLORS)]}" '
                 f'stroke-width="2"{dash}/>')
    # legend (under the plot, so that it never hides a line)
    lx, ly = left + 14, top + ph + 58
    lw = 8 + 7.0 * max(len(NAMES.get(l, l)) for l in series) + 40
    o.append(f'<rect x="{lx - 6}" y="{ly - 6}" width="{lw:.0f}" height="{20 * len(series) + 6}" '
             f'fill="white" fill-opacity="0.9" stroke="#999"/>')
    for i, label in enumerate(series):
        y = ly + 20 * i + 7
        dash = f' stroke-dasharray="{DASHES[i % len(DASHES)]}"' if DASHES[i % len(DASHES)] else ""
        o.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 28}" y2="{y}" '
                 f'stroke="{COLORS[i % len(COLORS)]}" stroke-width="2.5"{dash}/>')
        o.append(f'<text x="{lx + 36}" y="{y + 4}">{esc(NAMES.get(label, label))}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def table(series, size):
    merged = OrderedDict((label, merge(rows, size)) for label, rows in series.items())
    labels = list(merged)
    lines = ["| positions | " + " | ".join(f"`{l}`" for l in labels) + " |",
             "| --- | " + " | ".join("---:" for _ in labels) + " |"]
    starts = sorted({lo for rows in merged.values() for lo, *_ in rows})
    for s in starts:
        cells = []
        end = None
        for l in labels:
            row = next((r for r in merged[l] if r[0] == s), None)
            cells.append(f"{math.exp(row[3]):.1f}" if row else "")
            end = row[1] if row else end
        lines.append(f"| {s}-{end - 1} | " + " | ".join(cells) + " |")
    totals = []
    for l in labels:
        n = sum(r[2] for r in merged[l])
        totals.append(f"{math.exp(sum(r[2] * r[3] for r in merged[l]) / n):.1f}")
    lines.append("| all | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=os.path.join(HERE, "ppl_position.csv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "quality-ppl-position.svg"))
    ap.add_argument("--trained-context", type=int, default=256)
    ap.add_argument("--title", default="Perplexity against position, Tiny Shakespeare "
                                       "validation (Junction CPU, float32)")
    ap.add_argument("--table", action="store_true", help="print a Markdown table too")
    ap.add_argument("--table-bucket", type=int, default=256)
    a = ap.parse_args()
    series = load(a.csv)
    with open(a.out, "w") as f:
        f.write(svg(series, a.trained_context, a.title))
    print(f"wrote {a.out} ({len(series)} lines)")
    if a.table:
        print(table(series, a.table_bucket))


if __name__ == "__main__":
    main()
