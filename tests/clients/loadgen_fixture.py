"""Shared pieces of the junction-loadgen tests: a junction-server on loopback with the fixture
model, and a TCP relay that timestamps the SSE events it forwards.

The model directory is assembled in a temp dir at test time: tests/golden/llama/model (Llama,
vocab 256) plus the byte-level tokenizer of tests/data/byte_tokenizer. Every wait is bounded.
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_NAME = "loadgen-fixture"


def assemble_model_dir(root):
    model = os.path.join(root, "model")
    os.makedirs(model)
    for src, names in [
        ("golden/llama/model", ["config.json", "model.safetensors", "generation_config.json"]),
        ("data/byte_tokenizer", ["tokenizer.json", "tokenizer_config.json"]),
    ]:
        for name in names:
            os.symlink(os.path.join(TESTS_DIR, src, name), os.path.join(model, name))
    return model


class Server:
    """junction-server on free loopback ports (read from its log)."""

    def __init__(self, binary, threads=1, timeout=60, idle_priority=False):
        """idle_priority runs the server under SCHED_IDLE: any waking client thread preempts it
        at once. Under the default policy a waking thread may wait out the server's slice
        (milliseconds) for a CPU, which a timing test would misread as the client's error."""
        self.tmp = tempfile.TemporaryDirectory(prefix="junction-loadgen-")
        self.log = []
        self.ports = {}
        args = [binary, "--model", assemble_model_dir(self.tmp.name), "--served-model-name",
                MODEL_NAME, "--http-port", "0", "--grpc-port", "0", "--threads", str(threads)]
        demote = (lambda: os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
                  ) if idle_priority else None
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=demote)
        threading.Thread(target=self._read_log, daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("junction-server exited:\n" + "\n".join(self.log))
            if "http" in self.ports and "grpc" in self.ports and self._healthy():
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError("junction-server did not become healthy:\n" + "\n".join(self.log))

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))
            m = re.search(r"(http|grpc) listening on [^:]+:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))

    def _healthy(self):
        try:
            url = f"http://127.0.0.1:{self.ports['http']}/health"
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def close(self, timeout=30):
        """SIGTERM, SIGKILL after `timeout` s; returns the exit status. Exiting on its own lets
        the sanitizer build's LeakSanitizer check the server at exit, which SIGKILL would skip."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.tmp.cleanup()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        status = self.close()
        # A non-zero status after a passing test is a failed drain or, in the sanitizer build,
        # a report (a leak found at exit, say).
        if exc_type is None and status != 0:
            raise AssertionError(f"junction-server exited with status {status} after SIGTERM:\n"
                                 + "\n".join(self.log[-40:]))


class _ResponseTimer:
    """Parses one HTTP/1.1 response (chunked or not) as bytes arrive and records, per SSE event,
    the stamp of the bytes that completed it."""

    def __init__(self, record):
        self.record = record
        self.raw = b""
        self.headers_done = False
        self.chunked = False
        self.body = b""  # de-chunked, not yet split into events

    def feed(self, data, now_ns):
        self.raw += data
        if not self.headers_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.raw[:end].decode("latin-1").lower()
            self.record["status"] = int(head.split()[1])
            self.chunked = "transfer-encoding: chunked" in head
            self.raw = self.raw[end + 4:]
            self.headers_done = True
        if self.chunked:
            while True:
                eol = self.raw.find(b"\r\n")
                if eol < 0:
                    break
                size = int(self.raw[:eol].split(b";")[0], 16)
                if len(self.raw) < eol + 2 + size + 2:
                    break
                self.body += self.raw[eol + 2:eol + 2 + size]
                self.raw = self.raw[eol + 2 + size + 2:]
        else:
            self.body += self.raw
            self.raw = b""
        while b"\n\n" in self.body:
            event, self.body = self.body.split(b"\n\n", 1)
            self._event(event.decode("utf-8", "replace"), now_ns)

    def _event(self, event, now_ns):
        data = "\n".join(line[5:].lstrip(" ") for line in event.split("\n")
                         if line.startswith("data:"))
        if not data or data == "[DONE]":
            return
        chunk = json.loads(data)
        for choice in chunk.get("choices") or []:
            text = choice.get("text")
            if text is None:
                text = (choice.get("delta") or {}).get("content")
            if text:
                self.record["events_ns"].append(now_ns)


# SO_TIMESTAMPNS (Linux): the kernel stamps every received packet with CLOCK_REALTIME; recvmsg
# returns the stamp as an SCM_TIMESTAMPNS control message (struct timespec, two int64).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _recv_stamped(sock, offset_ns):
    """recv with the kernel's arrival time of the data, as CLOCK_MONOTONIC nanoseconds."""
    data, ancdata, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(16))
    for level, kind, value in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = struct.unpack("qq", value[:16])
            return data, sec * 1_000_000_000 + nsec - offset_ns
    return data, time.monotonic_ns()


class TimingRelay:
    """A TCP relay between an HTTP client and the server. For every connection it records the
    request's X-Request-Id, when the request's first bytes arrived and when every SSE event that
    carries generated text was handed on to the client. The request's arrival is the kernel's
    receive timestamp (SO_TIMESTAMPNS, converted to CLOCK_MONOTONIC), so the relay's scheduling
    does not enter it; an event is stamped with CLOCK_MONOTONIC just before the bytes that
    complete it are forwarded, the earliest the client can see them. CLOCK_MONOTONIC is the clock
    of the loadgen's --trace."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.offset_ns = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.monotonic_ns()
        self.listener = socket.create_server(("127.0.0.1", 0))
        # Timestamps on the listener: an accepted socket inherits them, so a request that arrives
        # before _serve's thread runs is still stamped by the kernel (not, later, by Python).
        self.listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.port = self.listener.getsockname()[1]
        self.records = {}  # X-Request-Id -> {"start_ns", "events_ns", "status"}
        self.lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120)
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        record = {"start_ns": None, "events_ns": [], "status": None}
        threading.Thread(target=self._client_to_server, args=(client, upstream, record),
                         daemon=True).start()
        timer = _ResponseTimer(record)
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                # Stamped as the bytes are handed on, not as they arrived: the client cannot see
                # them earlier, and the relay's own wait for the GIL or a CPU (milliseconds, now
                # and then) is no error of the client's.
                handed_ns = time.monotonic_ns()
                client.sendall(data)
                timer.feed(data, handed_ns)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def _client_to_server(self, client, upstream, record):
        head = b""
        try:
            while True:
                data, stamp = _recv_stamped(client, self.offset_ns)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return
                if record["start_ns"] is None:
                    record["start_ns"] = stamp
                upstream.sendall(data)
                if "id" not in record:
                    head += data
                    m = re.search(rb"(?i)\r\nx-request-id:\s*([^\r\n]+)", head)
                    if m:
                        record["id"] = m.group(1).decode()
                        with self.lock:
                            self.records[record["id"]] = record
        except OSError:
            pass

    def close(self):
        self.listener.close()
