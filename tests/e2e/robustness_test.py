"""Robustness end to end: a client killed mid-stream frees its request within a second; slow
clients are dropped; a full waiting queue is a 429 with Retry-After; SIGTERM drains (new requests
503, in-flight ones finish, exit 0)."""
import json
import socket
import struct
import threading
import time

from bad_inputs_test import doc_rows
from grpc_client import JunctionClient
from harness import MODEL_NAME, Server, check, run_main


def open_stream(port, max_tokens, prompt="go"):
    """Starts a streaming completion on a raw socket; returns the socket after the headers."""
    body = json.dumps({"model": MODEL_NAME, "prompt": prompt, "max_tokens": max_tokens,
                       "temperature": 0, "ignore_eos": True, "stream": True}).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return s


def read_until(s, marker, limit=1 << 20):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def killed_client(server):
    baseline = server.metrics()["junction_kv_blocks_used"]
    s = open_stream(server.http_port, max_tokens=3000)
    head = read_until(s, b"data: ")
    check(b" 200 " in head.split(b"\r\n")[0], f"stream started: {head[:100]!r}")
    read_until(s, b"\n\n")
    check(server.metrics()["junction_requests_running"] >= 1, "the request is running")
    # Kill the client: RST, as a crashed process would leave it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    start = time.time()
    check(wait_for(lambda: server.metrics()["junction_requests_running"] == 0, 1.0),
          "requests running did not drop to 0 within one second")
    check(wait_for(lambda: server.metrics()["junction_kv_blocks_used"] <= baseline, 1.0),
          "blocks did not return to the pool")
    print(f"killed client freed in {time.time() - start:.3f}s")


def slow_client(server):
    s = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    start = time.time()
    try:
        data = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        data = b""
    elapsed = time.time() - start
    check(elapsed < 5, f"slow client held for {elapsed:.1f}s")
    check(data == b"" or b"400" in data or b"408" in data, f"slow client got {data[:80]!r}")
    s.close()


def queue_full(server_binary, rows):
    with Server(server_binary, ["--max-seqs", "1", "--max-waiting", "1"]) as server:
        sockets = [open_stream(server.http_port, max_tokens=3000, prompt=f"p{i}")
                   for i in range(4)]
        heads = [read_until(s, b"\r\n\r\n") for s in sockets]
        rejected = [h for h in heads if h.startswith(b"HTTP/1.1 429")]
        status_lines = [h.split(b"\r\n")[0] for h in heads]
        check(rejected, f"no 429 among {status_lines}")
        check(b"Retry-After: 1" in rejected[0], f"Retry-After: {rejected[0]!r}")
        check(rows["queue_full"] == 429, "docs: queue_full is 429")
        for s in sockets:
            s.close()


def drain(server_binary, descriptor_set, rows):
    server = Server(server_binary)
    try:
        grpc_client = JunctionClient(server.grpc_target, descriptor_set)
        check(grpc_client.health() == 1, "gRPC health SERVING before the drain")
        s = open_stream(server.http_port, max_tokens=1500)
        first = read_until(s, b"data: ")
        check(b" 200 " in first.split(b"\r\n")[0], "in-flight stream started")
        server.proc.send_signal(15)
        check(wait_for(lambda: server.health() == 503, 5), "/health is 503 while draining")
        check(grpc_client.health() == 2, "gRPC health NOT_SERVING while draining")
        status, headers, body = server.post("/v1/completions",
                                            {"model": MODEL_NAME, "prompt": "x", "max_tokens": 2})
        check(status == 503 and body["error"]["code"] == "server_draining", f"{status} {body}")
        check(rows["draining"] == 503, "docs: draining is 503")
        rest = read_until(s, b"data: [DONE]\n\n")
        check(b"data: [DONE]" in rest and b'"finish_reason":"length"' in rest,
              f"in-flight stream finished: {rest[-200:]!r}")
        s.close()
        check(server.proc.wait(timeout=30) == 0, "exit status 0 after the drain")
    finally:
        server.kill()


def main(args):
    rows = doc_rows(args.docs)
    with Server(args.server, ["--read-timeout", "1"]) as server:
        killed_client(server)
        slow_client(server)
        check(server.health() == 200, "healthy after it all")
    queue_full(args.server, rows)
    drain(args.server, args.descriptor_set, rows)


if __name__ == "__main__":
    run_main(main)
