"""Starts junction-server on loopback with the fixture model for one end-to-end test.

The model directory is assembled in a temp dir: tests/golden/llama/model (vocab 256) plus the
byte-level tokenizer of tests/data/e2e_model_tokenizer. Ports are chosen by the server (port 0)
and read from its log. Every wait is bounded.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_NAME = "junction-e2e"


def assemble_model_dir(root):
    model = os.path.join(root, "model")
    os.makedirs(model, exist_ok=True)
    sources = [
        (os.path.join(TESTS_DIR, "golden/llama/model"), ["config.json", "model.safetensors",
                                                         "generation_config.json"]),
        (os.path.join(TESTS_DIR, "data/e2e_model_tokenizer"), ["tokenizer.json",
                                                               "tokenizer_config.json"]),
    ]
    for src_dir, names in sources:
        for name in names:
            os.symlink(os.path.join(src_dir, name), os.path.join(model, name))
    return model


class Server:
    def __init__(self, binary, extra_args=(), env=None, start_timeout=60):
        self.tmp = tempfile.TemporaryDirectory(prefix="junction-e2e-")
        self.model_dir = assemble_model_dir(self.tmp.name)
        self.log_lines = []
        self.http_port = None
        self.grpc_port = None
        args = [binary, "--model", self.model_dir, "--served-model-name", MODEL_NAME,
                "--http-port", "0", "--grpc-port", "0", "--threads", "1", *extra_args]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env, text=True)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.time() + start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("junction-server exited:\n" + "\n".join(self.log_lines))
            if self.http_port and self.grpc_port and self.health() == 200:
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("junction-server did not become healthy:\n" + "\n".join(self.log_lines))

    def _read_log(self):
        for line in self.proc.stderr:
            self.log_lines.append(line.rstrip("\n"))
            m = re.search(r"(http|grpc) listening on [^:]+:(\d+)", line)
            if m:
                setattr(self, m.group(1) + "_port", int(m.group(2)))

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self):
        return f"127.0.0.1:{self.grpc_port}"

    def health(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def metrics(self):
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def post(self, path, body, headers=None, timeout=60):
        """POST JSON (or raw bytes); returns (status, headers, parsed JSON or raw text)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), _maybe_json(r.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), _maybe_json(e.read())

    def stop(self, timeout=30):
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

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        status = self.stop()
        # After a passing test the drain must be clean too: a non-zero status is a failed drain
        # or, in the sanitizer build, a report (a leak found at exit, say).
        if exc_type is None:
            check(status == 0, f"junction-server exited with status {status} after SIGTERM:\n"
                  + "\n".join(self.log_lines[-40:]))


def _maybe_json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_args():
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--cli", default="")
    p.add_argument("--descriptor-set", default="")
    p.add_argument("--docs", default=os.path.join(os.path.dirname(TESTS_DIR), "docs/api.md"))
    return p.parse_args()


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def run_main(main):
    """Runs main(args); prints the failure and exits 1 on any exception."""
    try:
        main(parse_args())
    except Exception:  # noqa: BLE001 - report every failure the same way
        import traceback
        traceback.print_exc()
        sys.exit(1)
    print("PASS")
