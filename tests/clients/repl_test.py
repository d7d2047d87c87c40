"""junction-cli --chat through a pseudo-terminal (python3's pty): a two-turn chat whose second
turn sees the first, /reset, Ctrl-C during a long answer (the answer stops, the program does
not), Ctrl-C at the prompt, /exit. With a junction-server binary it also runs a remote chat turn
and a one-shot --server prompt over gRPC.

The fixture model (tests/golden/llama + tests/data/byte_tokenizer, template
"{role}: {content}\\n" per message then "assistant: ") is a byte-level model, so prompt token
counts are byte counts of the rendered chat.

usage: repl_test.py JUNCTION_CLI [JUNCTION_SERVER]
"""
import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time

from loadgen_fixture import Server, assemble_model_dir

CLI = sys.argv[1]
SERVER = sys.argv[2] if len(sys.argv) > 2 else ""
STATS = re.compile(r"\[(\d+) prompt tokens, (\d+) generated at [\d.]+ tok/s, first token after "
                   r"\d+ ms, finish (\w+); ([^\]]*)\]")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Terminal:
    """junction-cli in a pseudo-terminal; every read is bounded."""

    def __init__(self, args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(CLI, [CLI, *args])
        self.output = b""
        self.mark = 0

    def read_until(self, pattern, timeout=120):
        """Reads until `pattern` (bytes regex) matches output after the current mark."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.output[self.mark:], re.S)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {pattern!r} in {self.output[self.mark:][-400:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise EOFError(f"exited before {pattern!r}: {self.output[-400:]!r}")
                self.output += data

    def send(self, text):
        self.mark = len(self.output)
        os.write(self.fd, text)

    def turn(self, message):
        """Sends one chat message; returns (answer bytes, prompt tokens, generated, finish)."""
        self.send(message.encode() + b"\r")
        m = self.read_until(rb"\r\n(.*)\r\n(\[interrupted\]\r\n)?(\[\d+ prompt tokens[^\]]*\])\r\n>>> ")
        stats = STATS.search(m.group(3).decode("utf-8", "replace"))
        return m.group(1), int(stats.group(1)), int(stats.group(2)), stats.group(3), stats.group(4)

    def wait_exit(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.output += os.read(self.fd, 65536)
            except OSError:
                pass
        os.kill(self.pid, 9)
        return None


def two_turns_and_reset(model):
    t = Terminal(["--model", model, "--device", "cpu", "--chat", "--temperature", "0",
                  "--max-tokens", "16", "--threads", "1"])
    t.read_until(rb"/reset clears the history.*>>> ")
    a1, p1, g1, _, plan = t.turn("hello")
    check(p1 == len("user: hello\nassistant: "), f"turn 1: prompt is the rendered template ({p1})")
    check(1 <= g1 <= 16 and "attention=cpu.flash" in plan, f"turn 1: {g1} tokens, plan '{plan}'")
    _, p2, _, _, _ = t.turn("hello")
    check(p2 > p1 + len("\nuser: hello\n"), f"turn 2 sees turn 1 in its prompt ({p2} > {p1})")
    t.send(b"/reset\r")
    t.read_until(rb"\[history cleared\]\r\n>>> ")
    a3, p3, _, _, _ = t.turn("hello")
    check(p3 == p1 and a3 == a1, f"after /reset the same message gets the same prompt and answer")
    t.send(b"/exit\r")
    check(t.wait_exit() == 0, "/exit ends the program with status 0")


def ctrl_c(model):
    t = Terminal(["--model", model, "--device", "cpu", "--chat", "--temperature", "0",
                  "--max-tokens", "4000", "--ignore-eos", "--threads", "1"])
    t.read_until(rb">>> ")
    t.send(b"tell me a long story\r")
    t.read_until(rb"story\r\n.")  # the answer has started streaming
    t.send(b"\x03")
    m = t.read_until(rb"\[interrupted\]\r\n(\[\d+ prompt tokens[^\]]*\])\r\n>>> ", timeout=60)
    stats = STATS.search(m.group(1).decode())
    check(stats and stats.group(3) == "cancelled" and int(stats.group(2)) < 4000,
          f"Ctrl-C stops the answer ({m.group(1).decode()})")
    # The program goes on: the next message is answered (and interrupted again).
    t.send(b"are you still there\r")
    t.read_until(rb"there\r\n.")
    t.send(b"\x03")
    m = t.read_until(rb"\[interrupted\]\r\n(\[\d+ prompt tokens[^\]]*\])\r\n>>> ", timeout=60)
    stats = STATS.search(m.group(1).decode())
    check(stats and int(stats.group(1)) > len("user: are you still there\nassistant: "),
          f"after Ctrl-C the next message is answered, with the history ({m.group(1).decode()})")
    t.send(b"half a line\x03")
    t.read_until(rb"\r\n>>> ")
    t.send(b"\x04")  # Ctrl-D at an empty prompt: end of input
    check(t.wait_exit() == 0, "Ctrl-C at the prompt drops the line; Ctrl-D exits with status 0")


def remote(model):
    with Server(SERVER) as server:
        address = f"127.0.0.1:{server.ports['grpc']}"
        r = subprocess.run([CLI, "--server", address, "--prompt", "hi", "--max-tokens", "8",
                            "--ignore-eos", "--temperature", "0", "--format", "json"],
                           capture_output=True, text=True, timeout=60)
        out = json.loads(r.stdout) if r.returncode == 0 else {}
        check(out.get("completion_tokens") == 8 and len(out.get("ids", [])) == 8 and
              "attention=" in out.get("plan", ""), f"--server one-shot prompt over gRPC ({r.stderr})")
        local = subprocess.run([CLI, "--model", model, "--device", "cpu", "--prompt", "hi",
                                "--max-tokens", "8", "--ignore-eos", "--temperature", "0",
                                "--format", "json"],
                               capture_output=True, text=True, timeout=60)
        local_out = json.loads(local.stdout) if local.returncode == 0 else {}
        check(local_out.get("ids") == out.get("ids"),
              f"--server and in-process greedy ids agree ({local.returncode}: {local.stderr})")
        t = Terminal(["--server", address, "--tokenizer", model, "--chat", "--temperature", "0",
                      "--max-tokens", "8", "--ignore-eos"])
        t.read_until(rb">>> ")
        _, p, g, finish, plan = t.turn("hello")
        check(p == len("user: hello\nassistant: ") and g == 8 and finish == "length",
              f"remote chat turn ({p} prompt, {g} generated, {finish}, {plan})")
        t.send(b"/exit\r")
        check(t.wait_exit() == 0, "remote chat exits with status 0")


def main():
    with tempfile.TemporaryDirectory(prefix="junction-repl-") as tmp:
        model = assemble_model_dir(tmp)
        for case in [two_turns_and_reset, ctrl_c] + ([remote] if SERVER else []):
            try:
                case(model)
            except (TimeoutError, EOFError, AttributeError) as e:
                check(False, f"{case.__name__}: {e}")
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
