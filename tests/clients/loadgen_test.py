"""junction-loadgen against a real junction-server on the fixture model: validates the --json
document and the --trace lines on each target (HTTP completions, HTTP chat, gRPC), the --rates
sweep (table + SVG), goodput, error accounting and the time bound.

usage: loadgen_test.py LOADGEN SERVER WORK_DIR
"""
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from loadgen_fixture import MODEL_NAME, Server

LOADGEN, SERVER, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
DIST_KEYS = {"count", "mean", "std", "median", "p90", "p99", "min", "max"}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def loadgen(port, *args, timeout=240):
    started = time.monotonic()
    r = subprocess.run([LOADGEN, "--port", str(port), "--no-progress", *args],
                       capture_output=True, text=True, timeout=timeout)
    return r, time.monotonic() - started


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_trace(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def check_distribution(d, count, name):
    check(set(d) == DIST_KEYS, f"{name}: keys {sorted(d)}")
    check(d["count"] == count, f"{name}: count {d['count']} == {count}")
    if count:
        ordered = d["min"] <= d["median"] <= d["p90"] <= d["p99"] <= d["max"]
        check(ordered and d["min"] >= 0, f"{name}: min <= median <= p90 <= p99 <= max ({d})")
        check(d["min"] <= d["mean"] <= d["max"], f"{name}: mean within [min, max]")


def check_run(run, trace, n, input_len, output_len, label):
    """The summary is consistent with the requests and with the trace it was computed from."""
    check(run["completed"] == n and run["failed"] == 0 and run["errors"] == {},
          f"{label}: {n} completed, none failed ({run['completed']}, {run['errors']})")
    check(len(trace) == n and all(t["ok"] for t in trace), f"{label}: {n} trace lines, all ok")
    check(sorted(t["index"] for t in trace) == list(range(n)), f"{label}: trace indices 0..{n-1}")
    check(all(t["output_tokens"] == output_len for t in trace),
          f"{label}: every request generated {output_len} tokens (ignore_eos)")
    if input_len is not None:
        check(run["total_input_tokens"] == n * input_len,
              f"{label}: total input tokens {run['total_input_tokens']} == {n * input_len}")
    check(run["total_output_tokens"] == n * output_len, f"{label}: total output tokens")
    chunks = [len(t["chunk_ns"]) for t in trace]
    check(all(1 <= c <= output_len for c in chunks), f"{label}: 1..{output_len} chunks a request")
    check_distribution(run["ttft_ms"], n, f"{label} ttft_ms")
    check_distribution(run["tpot_ms"], n, f"{label} tpot_ms")
    check_distribution(run["e2el_ms"], n, f"{label} e2el_ms")
    check_distribution(run["itl_ms"], sum(c - 1 for c in chunks), f"{label} itl_ms")
    # Recompute the metrics from the trace (vLLM's definitions) and compare.
    ttft = [(t["chunk_ns"][0] - t["send_ns"]) / 1e6 for t in trace]
    e2el = [(t["end_ns"] - t["send_ns"]) / 1e6 for t in trace]
    tpot = [(e - f) / (output_len - 1) for e, f in zip(e2el, ttft)]
    itl = [(b - a) / 1e6 for t in trace for a, b in zip(t["chunk_ns"], t["chunk_ns"][1:])]
    for name, values in [("ttft_ms", ttft), ("e2el_ms", e2el), ("tpot_ms", tpot), ("itl_ms", itl)]:
        mean = sum(values) / len(values)
        check(abs(run[name]["mean"] - mean) <= 1e-6 * max(1.0, mean),
              f"{label}: {name} mean {run[name]['mean']:.4f} == trace {mean:.4f}")
    duration = (max(t["end_ns"] for t in trace) - min(t["send_ns"] for t in trace)) / 1e9
    check(abs(run["duration_s"] - duration) < 1e-6, f"{label}: duration from the trace")
    check(abs(run["request_throughput"] - n / duration) < 1e-6 * n / duration,
          f"{label}: request throughput = completed / duration")
    check(abs(run["output_throughput"] - n * output_len / duration) < 1e-3,
          f"{label}: output throughput = tokens / duration")
    check(1 <= run["max_concurrency_seen"] <= n, f"{label}: max concurrency seen")


def targets(server):
    n = 6
    for backend, port in [("http-completions", server.ports["http"]),
                          ("http-chat", server.ports["http"]), ("grpc", server.ports["grpc"])]:
        out = os.path.join(WORK, f"{backend}.json")
        trace = os.path.join(WORK, f"{backend}.trace.jsonl")
        r, _ = loadgen(port, "--backend", backend, "--num-requests", str(n), "--rate", "20",
                       "--input-len", "24", "--output-len", "12", "--warmup", "1", "--seed", "7",
                       "--slo", "ttft_ms=60000,tpot_ms=60000", "--json", out, "--trace", trace)
        check(r.returncode == 0, f"{backend}: exit 0 ({r.stderr.strip()[-300:]})")
        if r.returncode != 0:
            continue
        check("Serving Benchmark Result" in r.stdout and "Mean TTFT (ms)" in r.stdout,
              f"{backend}: result table printed")
        doc = read_json(out)
        check(doc["tool"] == "junction-loadgen" and doc["config"]["backend"] == backend,
              f"{backend}: json config")
        run = doc["runs"][0]
        check(run["request_rate"] == 20 and run["backend"] == backend, f"{backend}: run header")
        check(run["goodput"] is not None and run["good_requests"] == n,
              f"{backend}: every request meets a loose SLO (goodput counts {run['good_requests']})")
        # Chat prompts are words rendered through the chat template: the server counts them.
        check_run(run, read_trace(trace), n, None if backend == "http-chat" else 24, 12, backend)


def tight_slo_and_errors(server):
    out = os.path.join(WORK, "slo.json")
    r, _ = loadgen(server.ports["http"], "--num-requests", "4", "--input-len", "16",
                   "--output-len", "8", "--slo", "ttft_ms=0.000001", "--json", out)
    run = read_json(out)["runs"][0] if r.returncode == 0 else {}
    check(run.get("good_requests") == 0 and run.get("goodput") == 0,
          "an impossible TTFT objective gives goodput 0")
    out = os.path.join(WORK, "errors.json")
    r, _ = loadgen(server.ports["http"], "--model", "no-such-model", "--num-requests", "3",
                   "--warmup", "0", "--json", out)
    check(r.returncode == 3, f"all requests failing exits 3 (got {r.returncode})")
    run = read_json(out)["runs"][0]
    check(run["failed"] == 3 and run["errors"] == {"http_404": 3},
          f"errors by kind: {run['errors']}")
    out = os.path.join(WORK, "too-long.json")
    r, _ = loadgen(server.ports["grpc"], "--backend", "grpc", "--num-requests", "2",
                   "--warmup", "0", "--input-len", "5000", "--json", out)
    run = read_json(out)["runs"][0]
    check(run["errors"] == {"grpc_INVALID_ARGUMENT": 2},
          f"gRPC errors by kind: a prompt beyond the context ({run['errors']})")


def time_bound(server):
    out = os.path.join(WORK, "bounded.json")
    r, elapsed = loadgen(server.ports["http"], "--rate", "2", "--num-requests", "1000",
                         "--duration", "2", "--input-len", "8", "--output-len", "4",
                         "--warmup", "0", "--json", out)
    run = read_json(out)["runs"][0]
    sent = run["completed"] + run["failed"]
    check(elapsed < 30, f"--duration 2 bounds the run ({elapsed:.1f} s)")
    check(1 <= sent <= 12 and run["not_sent"] == 1000 - sent,
          f"requests after the duration are not sent ({sent} sent, {run['not_sent']} not)")


def sweep(server):
    out = os.path.join(WORK, "sweep.json")
    svg = os.path.join(WORK, "sweep.svg")
    r, _ = loadgen(server.ports["http"], "--rates", "4,8,16", "--num-requests", "8",
                   "--input-len", "32", "--output-len", "8", "--json", out, "--plot", svg)
    check(r.returncode == 0, "sweep: exit 0")
    check("Throughput and latency by request rate" in r.stdout, "sweep: table printed")
    rows = [line.split() for line in r.stdout.splitlines()]
    rows = [row for row in rows if len(row) == 11 and row[0] in ("4", "8", "16")]
    check([row[0] for row in rows] == ["4", "8", "16"], "sweep: one table row per rate")
    runs = read_json(out)["runs"]
    check([run["request_rate"] for run in runs] == [4, 8, 16], "sweep: one JSON run per rate")
    check(all(run["completed"] == 8 for run in runs), "sweep: every run completed")
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    polylines = root.findall(f"{ns}polyline")
    texts = [t.text for t in root.iter(f"{ns}text")]
    check(root.tag == f"{ns}svg", "sweep: the plot is an SVG document")
    check(len(polylines) == 11 and all(len(p.get("points").split()) == 3 for p in polylines),
          f"sweep: 11 series of 3 points ({len(polylines)})")
    for title in ["Time to first token", "Time per output token", "End-to-end latency",
                  "Throughput"]:
        check(title in texts, f"sweep: panel '{title}'")


def main():
    os.makedirs(WORK, exist_ok=True)
    with Server(SERVER) as server:
        targets(server)
        tight_slo_and_errors(server)
        time_bound(server)
        sweep(server)
    r = subprocess.run([LOADGEN, "--rate", "x", "--backend", "smtp"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 2 and "--rate" in r.stderr and "--backend" in r.stderr,
          "bad flags: exit 2 naming each")
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
