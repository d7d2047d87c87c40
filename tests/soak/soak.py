"""Soak test: junction-server on the fixture model under mixed load with faults, for --duration s.

Load: worker threads send greedy requests over HTTP (streaming and not) and gRPC and check every
answer against junction-cli's greedy ids for the same prompt. Faults mixed in: HTTP clients that
reset the connection mid-stream, gRPC calls cancelled mid-stream, gRPC deadlines that expire,
malformed HTTP requests, and bursts past --max-seqs + --max-waiting (429 / RESOURCE_EXHAUSTED
expected). Every few seconds the load pauses and the idle server must report 0 requests running
and 0 KV blocks used. At the end a SIGTERM drains: in-flight streams finish, new requests get
503, the exit code is 0.

Pass criteria: every well-formed request got the expected answer or a documented error (429 /
RESOURCE_EXHAUSTED when the queue is full); every fault got its documented answer; no blocks
leaked; RSS after warm-up stayed flat (the last quarter's median within --rss-tolerance of the
median of the quarter after warm-up, plus 16 MiB of allocator slack); clean exit. A JSON summary
goes to stdout (and --report FILE).

Usage: soak.py --server BIN --cli BIN --descriptor-set FILE [--duration 60] [--report FILE]
"""
import argparse
import collections
import http.client
import json
import os
import random
import signal
import socket
import statistics
import struct
import sys
import threading
import time

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS_DIR, "e2e"))
import grpc  # noqa: E402
from grpc_client import JunctionClient  # noqa: E402
from harness import MODEL_NAME, Server  # noqa: E402

MAX_SEQS, MAX_WAITING = 4, 4
MAX_TOKENS = 12
PROMPTS = [[1 + i, 40 + 3 * i, 90 + i, 7, 200 - i] + [65 + (i * 7 + j) % 50 for j in range(i % 4)]
           for i in range(8)]
BURST_SIZE = 3 * (MAX_SEQS + MAX_WAITING)
# Malformed HTTP requests and the statuses docs/api.md gives them.
MALFORMED = [
    ("not json", b"{\"model\": ", {400}),
    ("wrong type", json.dumps({"model": MODEL_NAME, "prompt": "x", "max_tokens": "9"}).encode(),
     {400}),
    ("bad token id", json.dumps({"model": MODEL_NAME, "prompt": [1, 99999]}).encode(), {400}),
    ("too long", json.dumps({"model": MODEL_NAME, "prompt": "x", "max_tokens": 10 ** 9}).encode(),
     {400}),
    ("unknown model", json.dumps({"model": "nope", "prompt": "x"}).encode(), {404}),
    ("invalid utf-8", b"{\"model\": \"" + MODEL_NAME.encode() + b"\", \"prompt\": \"\xff\xfe\"}",
     {400}),
    ("bad messages", json.dumps({"model": MODEL_NAME, "messages": [{"role": 3}]}).encode(), {400}),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, {400}),
]


class Tally:
    """Thread-safe counters by kind, plus the list of failures."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.failures = []

    def add(self, kind, n=1):
        with self.lock:
            self.counts[kind] += n

    def fail(self, message):
        with self.lock:
            self.failures.append(message)


class Soak:
    def __init__(self, server, client, expected_ids, expected_text, rng_seed):
        self.server = server
        self.client = client
        self.expected_ids = expected_ids
        self.expected_text = expected_text
        self.tally = Tally()
        self.running = threading.Event()  # set: load may run; cleared for idle checks
        self.running.set()
        self.stop = threading.Event()
        self.active = 0
        self.active_lock = threading.Condition()
        self.rng_seed = rng_seed

    # ---- well-formed requests ----
    def http_greedy(self, rng, stream):
        i = rng.randrange(len(PROMPTS))
        body = {"model": MODEL_NAME, "prompt": PROMPTS[i], "max_tokens": MAX_TOKENS,
                "temperature": 0, "ignore_eos": True, "stream": stream}
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=120)
        try:
            conn.request("POST", "/v1/completions", json.dumps(body),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read().decode()
        finally:
            conn.close()
        kind = "http_stream" if stream else "http"
        if resp.status == 429:
            return self.tally.add(f"{kind}: 429 queue full")
        if resp.status != 200:
            return self.tally.fail(f"{kind}: status {resp.status}: {raw[:200]}")
        if stream:
            events = raw.split("\n\n")
            if events[-2:] != ["data: [DONE]", ""]:
                return self.tally.fail(f"{kind}: stream did not end with [DONE]: {raw[-80:]!r}")
            chunks = [json.loads(e[6:])["choices"][0] for e in events[:-2]]
            text = "".join(c["text"] for c in chunks)
            finish = [c["finish_reason"] for c in chunks if c["finish_reason"]]
        else:
            choice = json.loads(raw)["choices"][0]
            text, finish = choice["text"], [choice["finish_reason"]]
        if text != self.expected_text[i] or finish != ["length"]:
            return self.tally.fail(f"{kind}: prompt {i}: {text!r} {finish} != "
                                   f"{self.expected_text[i]!r}")
        self.tally.add(f"{kind}: ok")

    def grpc_greedy(self, rng):
        i = rng.randrange(len(PROMPTS))
        ids, finish = [], None
        try:
            for r in self.client.generate(timeout=120, **self.generate_fields(PROMPTS[i],
                                                                              MAX_TOKENS)):
                if r.WhichOneof("kind") == "delta":
                    ids += list(r.delta.token_ids)
                else:
                    finish = r.result.finish_reason
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                return self.tally.add("grpc: RESOURCE_EXHAUSTED queue full")
            return self.tally.fail(f"grpc: {e.code()} {e.details()}")
        if ids != self.expected_ids[i] or finish != "length":
            return self.tally.fail(f"grpc: prompt {i}: {ids} {finish} != {self.expected_ids[i]}")
        self.tally.add("grpc: ok")

    def generate_fields(self, prompt, max_tokens):
        TokenIds = self.client.message("junction.v1.TokenIds")
        Sampling = self.client.message("junction.v1.SamplingParams")
        return {"token_ids": TokenIds(ids=prompt),
                "sampling": Sampling(temperature=0, max_tokens=max_tokens, ignore_eos=True)}

    # ---- faults ----
    def http_disconnect(self, rng):
        body = json.dumps({"model": MODEL_NAME, "prompt": PROMPTS[rng.randrange(len(PROMPTS))],
                           "max_tokens": 2000, "temperature": 0, "ignore_eos": True,
                           "stream": True}).encode()
        s = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=60)
        try:
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            head = s.recv(4096)
            if rng.random() < 0.5:
                s.recv(4096)  # sometimes after a token or two
            self.tally.add("fault: http reset mid-stream" if head.startswith(b"HTTP/1.1 200")
                           else "fault: http reset after 429")
            if not (head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.1 429")):
                self.tally.fail(f"http disconnect: unexpected answer {head[:60]!r}")
        finally:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()

    def grpc_cancel(self, rng):
        call = self.client.generate(timeout=120, **self.generate_fields(
            PROMPTS[rng.randrange(len(PROMPTS))], 2000))
        try:
            next(call)
            call.cancel()
            self.tally.add("fault: grpc cancel mid-stream")
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                return self.tally.add("fault: grpc cancel refused (RESOURCE_EXHAUSTED)")
            self.tally.fail(f"grpc cancel: {e.code()} {e.details()}")

    def grpc_deadline(self, rng):
        try:
            for _ in self.client.generate(timeout=rng.uniform(0.05, 0.5), **self.generate_fields(
                    PROMPTS[rng.randrange(len(PROMPTS))], 3000)):
                pass
            self.tally.fail("grpc deadline: 3000 tokens finished before the deadline")
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return self.tally.add("fault: grpc deadline expired")
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                return self.tally.add("fault: grpc deadline refused (RESOURCE_EXHAUSTED)")
            self.tally.fail(f"grpc deadline: {e.code()} {e.details()}")

    def malformed(self, rng):
        name, body, statuses = rng.choice(MALFORMED)
        path = "/v1/chat/completions" if name == "bad messages" else "/v1/completions"
        status, _, answer = self.server.post(path, body)
        if status not in statuses:
            return self.tally.fail(f"malformed ({name}): {status} {str(answer)[:200]}")
        self.tally.add(f"fault: malformed ({name}) -> {status}")

    def burst(self, rng):
        threads = [threading.Thread(target=self.guarded, args=(self.http_greedy, random.Random(
            rng.random()), True)) for _ in range(BURST_SIZE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.tally.add("fault: burst of %d" % BURST_SIZE)

    # ---- driver ----
    def guarded(self, action, *args):
        try:
            action(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported in the summary
            self.tally.fail(f"{action.__name__}: {e!r}")

    def worker(self, index):
        rng = random.Random(self.rng_seed * 1000 + index)
        actions = [(lambda r: self.http_greedy(r, True), 30),
                   (lambda r: self.http_greedy(r, False), 15), (self.grpc_greedy, 25), (self.http_disconnect, 8), (self.grpc_cancel, 6),
                   (self.grpc_deadline, 6), (self.malformed, 10)]
        if index == 0:
            actions.append((self.burst, 3))
        funcs, weights = zip(*actions)
        while not self.stop.is_set():
            self.running.wait()
            if self.stop.is_set():
                break
            with self.active_lock:
                self.active += 1
            try:
                self.guarded(rng.choices(funcs, weights)[0], rng)
            finally:
                with self.active_lock:
                    self.active -= 1
                    self.active_lock.notify_all()

    def quiesce(self):
        """Pauses the workers and waits until none is inside a request."""
        self.running.clear()
        with self.active_lock:
            self.active_lock.wait_for(lambda: self.active == 0, timeout=180)

    def check_idle(self, label):
        deadline = time.time() + 10
        while True:
            m = self.server.metrics()
            busy = (m["junction_requests_running"], m["junction_requests_waiting"],
                    m["junction_kv_blocks_used"])
            if busy == (0, 0, 0):
                self.tally.add("idle checks passed")
                return m
            if time.time() > deadline:
                self.tally.fail(f"{label}: idle server reports running/waiting/blocks {busy}")
                return m
            time.sleep(0.05)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def expected_answers(cli, server):
    import subprocess
    ids = []
    for prompt in PROMPTS:
        out = subprocess.run([cli, "--model", server.model_dir, "--ids", ",".join(map(str, prompt)),
                              "--max-tokens", str(MAX_TOKENS), "--temperature", "0",
                              "--ignore-eos", "--format", "json", "--threads", "1"],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"junction-cli failed: {out.stderr}")
        ids.append(json.loads(out.stdout)["ids"])
    texts = [server.post("/detokenize", {"tokens": i})[2]["prompt"] for i in ids]
    return ids, texts


def drain(soak, tally):
    """SIGTERM with two streams in flight: they finish, new requests get 503, exit code 0."""
    server = soak.server
    results = [None, None]

    def stream(slot):
        try:
            soak.http_greedy(random.Random(slot), True)
            results[slot] = "done"
        except Exception as e:  # noqa: BLE001
            results[slot] = repr(e)

    before = tally.counts["http_stream: ok"]
    threads = [threading.Thread(target=stream, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while server.metrics()["junction_requests_running"] < 1 and time.time() < deadline:
        time.sleep(0.005)
    server.proc.send_signal(signal.SIGTERM)
    status = None
    while time.time() < deadline:
        try:
            status = server.post("/v1/completions", {"model": MODEL_NAME, "prompt": "x"})[0]
        except OSError:
            break  # already exited: the drain finished
        if status == 503:
            break
        time.sleep(0.01)
    for t in threads:
        t.join(timeout=60)
    if status not in (503, None):
        tally.fail(f"drain: a new request got {status}, not 503")
    if tally.counts["http_stream: ok"] - before != 2:
        tally.fail(f"drain: in-flight streams did not both finish: {results}")
    try:
        code = server.proc.wait(timeout=60)
    except Exception:  # noqa: BLE001
        code = "timeout"
    if code != 0:
        tally.fail(f"drain: exit code {code}")
    tally.add("fault: SIGTERM drain")
    return code


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--descriptor-set", required=True)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--idle-check-every", type=float, default=10)
    p.add_argument("--rss-tolerance", type=float, default=0.10,
                   help="allowed RSS growth after warm-up as a fraction; negative: not checked")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report", default="")
    args = p.parse_args()

    server = Server(args.server, ["--max-seqs", str(MAX_SEQS), "--max-waiting", str(MAX_WAITING),
                                  "--read-timeout", "2", "--drain-timeout", "60"])
    try:
        expected_ids, expected_text = expected_answers(args.cli, server)
        client = JunctionClient(server.grpc_target, args.descriptor_set)
        soak = Soak(server, client, expected_ids, expected_text, args.seed)
        rss = []  # (seconds since start, KiB)
        start = time.time()
        workers = [threading.Thread(target=soak.worker, args=(i,), daemon=True)
                   for i in range(args.workers)]
        for w in workers:
            w.start()
        next_idle = start + args.idle_check_every
        while time.time() - start < args.duration:
            time.sleep(0.5)
            rss.append((time.time() - start, rss_kib(server.proc.pid)))
            if time.time() >= next_idle:
                soak.quiesce()
                soak.check_idle(f"idle check at {time.time() - start:.0f}s")
                soak.running.set()
                next_idle = time.time() + args.idle_check_every
        soak.stop.set()
        soak.quiesce()
        final_metrics = soak.check_idle("end of load")
        soak.running.set()
        for w in workers:
            w.join(timeout=60)
        elapsed = time.time() - start
        exit_code = drain(soak, soak.tally)
    finally:
        server.kill()

    # RSS: warm-up is the first quarter; compare the second quarter's median with the last's.
    span = rss[-1][0] + 1e-9 if rss else 1
    quarter = [[k for t, k in rss if q * span / 4 <= t < (q + 1) * span / 4] for q in range(4)]
    rss_after_warmup = statistics.median(quarter[1]) if quarter[1] else 0
    rss_end = statistics.median(quarter[3]) if quarter[3] else 0
    if args.rss_tolerance >= 0 and rss_end > rss_after_warmup * (1 + args.rss_tolerance) + 16384:
        soak.tally.fail(f"RSS grew from {rss_after_warmup} KiB to {rss_end} KiB")
    sanitizer_reports = [l for l in server.log_lines if "Sanitizer" in l or "runtime error" in l]
    if sanitizer_reports:
        soak.tally.fail("sanitizer report in the server log: " + sanitizer_reports[0])
    counts = soak.tally.counts
    for kind in ("http", "http_stream", "grpc"):
        if counts[f"{kind}: ok"] == 0:
            soak.tally.fail(f"no {kind} request completed: the load never got through")
    summary = {
        "duration_s": round(elapsed, 1),
        "requests": sum(v for k, v in counts.items() if k != "idle checks passed"),
        "well_formed_ok": sum(v for k, v in counts.items() if k.endswith(": ok")),
        "counts": dict(sorted(counts.items())),
        "rss_kib": {"first_sample": rss[0][1] if rss else 0, "after_warmup_median":
                    rss_after_warmup, "end_median": rss_end, "max": max(k for _, k in rss)},
        "kv_blocks_used_at_end": final_metrics["junction_kv_blocks_used"],
        "kv_blocks_total": final_metrics["junction_kv_blocks_total"],
        "exit_code": exit_code,
        "failures": soak.tally.failures[:20],
        "num_failures": len(soak.tally.failures),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text + "\n")
    if soak.tally.failures:
        print("SOAK FAILED", file=sys.stderr)
        sys.exit(1)
    print("soak passed")


if __name__ == "__main__":
    main()
