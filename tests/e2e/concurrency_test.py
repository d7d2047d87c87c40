"""100 concurrent streaming requests, HTTP (SSE) and gRPC mixed: every stream completes, and each
greedy result equals `junction-cli --ids ... --temperature 0 --ignore-eos --format json`."""
import http.client
import json
import subprocess
import threading

from grpc_client import JunctionClient
from harness import MODEL_NAME, Server, check, run_main

NUM_REQUESTS = 100
MAX_TOKENS = 16
PROMPTS = [[1 + i, 40 + 3 * i, 90 + i, 7, 200 - i] + [65 + (i * 7 + j) % 50 for j in range(i % 4)]
           for i in range(10)]


def cli_ids(cli, model_dir, prompt):
    out = subprocess.run([cli, "--model", model_dir, "--ids", ",".join(map(str, prompt)),
                          "--max-tokens", str(MAX_TOKENS), "--temperature", "0", "--ignore-eos",
                          "--format", "json"], capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, f"junction-cli failed: {out.stderr}")
    return json.loads(out.stdout)["ids"]


def http_stream(port, prompt):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = {"model": MODEL_NAME, "prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0,
            "ignore_eos": True, "stream": True}
    conn.request("POST", "/v1/completions", json.dumps(body),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read().decode()
    check(resp.status == 200, f"HTTP status {resp.status}: {raw[:200]}")
    conn.close()
    events = raw.split("\n\n")
    check(events[-2] == "data: [DONE]" and events[-1] == "", f"stream end: {raw[-80:]!r}")
    text, finish = "", None
    for event in events[:-2]:
        check(event.startswith("data: "), event)
        choice = json.loads(event[6:])["choices"][0]
        text += choice["text"]
        finish = choice["finish_reason"] or finish
    check(finish == "length", f"finish {finish}")
    return text


def grpc_stream(client, prompt):
    TokenIds = client.message("junction.v1.TokenIds")
    Sampling = client.message("junction.v1.SamplingParams")
    ids, finish = [], None
    for r in client.generate(token_ids=TokenIds(ids=prompt), timeout=120,
                             sampling=Sampling(temperature=0, max_tokens=MAX_TOKENS,
                                               ignore_eos=True)):
        if r.WhichOneof("kind") == "delta":
            ids += list(r.delta.token_ids)
        else:
            finish = r.result.finish_reason
    check(finish == "length", f"gRPC finish {finish}")
    return ids


def main(args):
    with Server(args.server, ["--max-seqs", "128"]) as server:
        expected = [cli_ids(args.cli, server.model_dir, p) for p in PROMPTS]
        client = JunctionClient(server.grpc_target, args.descriptor_set)
        # HTTP streams text: compare with the text of the CLI's ids.
        expected_text = [server.post("/detokenize", {"tokens": ids})[2]["prompt"]
                         for ids in expected]
        results, errors = [None] * NUM_REQUESTS, []

        def worker(i):
            prompt = PROMPTS[i % len(PROMPTS)]
            try:
                if i % 2 == 0:
                    results[i] = ("http", http_stream(server.http_port, prompt))
                else:
                    results[i] = ("grpc", grpc_stream(client, prompt))
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(f"request {i}: {e!r}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(NUM_REQUESTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        check(not errors, "\n".join(errors[:10]))
        for i, (door, got) in enumerate(results):
            want = expected[i % len(PROMPTS)]
            if door == "grpc":
                check(got == want, f"gRPC request {i}: {got} != cli {want}")
            else:
                want_text = expected_text[i % len(PROMPTS)]
                check(got == want_text, f"HTTP request {i}: {got!r} != cli {want_text!r}")
        m = server.metrics()
        check(m["junction_requests_running"] == 0, "nothing left running")


if __name__ == "__main__":
    run_main(main)
