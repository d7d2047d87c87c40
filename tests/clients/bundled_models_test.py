"""The bundled models (models/*) load (bf16 weights, their own tokenizer) and generate text
through junction-cli with the backend each mixer needs.

usage: bundled_models_test.py JUNCTION_CLI REPO_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

CLI, REPO, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
MODELS = ["gdn_hybrid", "llama", "mistral_window", "path_fox", "mamba2"]
EXPECTED_BACKENDS = {
    "gdn_hybrid": {"gated_deltanet": "cpu.gated_deltanet", "attention": "cpu.flash"},
    "llama": {"attention": "cpu.flash"},
    "mistral_window": {"sliding_window": "cpu.window"},
    "path_fox": {"path": "cpu.path"},
    "mamba2": {"mamba2": "cpu.mamba2"},
}
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


os.makedirs(WORK, exist_ok=True)
for name in MODELS:
    model = os.path.join(REPO, "models", name)
    r = subprocess.run([CLI, "--model", model, "--device", "cpu", "--prompt", "ROMEO:",
                        "--max-tokens", "12", "--seed", "7", "--format", "json"],
                       capture_output=True, text=True, timeout=300)
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    check(r.returncode == 0, f"{name}: exit 0 ({r.stderr.strip()[:200]})")
    check(len(out.get("ids", [])) == 12 and len(out.get("text", "")) > 0, f"{name}: 12 tokens of text")
    check(out.get("backends") == EXPECTED_BACKENDS[name], f"{name}: backends {out.get('backends')}")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
