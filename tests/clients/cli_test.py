"""junction-cli end to end: golden greedy ids, --dump-logits, and one-line errors on bad input.

usage: cli_test.py JUNCTION_CLI TESTS_DIR WORK_DIR
"""
import json
import os
import shutil
import subprocess
import sys

import safetensors_tool as st

CLI, TESTS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
GOLDEN = os.path.join(TESTS, "golden", "llama")
MODEL = os.path.join(GOLDEN, "model")
failures = []


def run(*args):
    # In-process runs compare with float32 goldens: pin the CPU reference path (auto would take a
    # GPU where there is one).
    if "--model" in args and "--server" not in args and "--device" not in args:
        args = (*args, "--device", "cpu")
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def golden_ids():
    with open(os.path.join(GOLDEN, "golden.json")) as f:
        golden = json.load(f)
    for i, (prompt, expected) in enumerate(zip(golden["prompts"], golden["greedy"])):
        r = run("--model", MODEL, "--ids", ",".join(map(str, prompt)), "--max-tokens",
                str(len(expected)), "--temperature", "0", "--ignore-eos", "--format", "json")
        out = json.loads(r.stdout) if r.returncode == 0 else {}
        check(out.get("ids") == expected, f"prompt {i}: greedy ids equal the golden")
        check(out.get("backends", {}).get("attention") == "cpu.flash", f"prompt {i}: backend reported")


def backends_per_fixture():
    """Every fixture reports the backend each of its layer kinds used."""
    expected = {
        "mistral_swa": {"sliding_window": "cpu.window"},
        "qwen3_swa": {"attention": "cpu.flash", "sliding_window": "cpu.window"},
        "mamba2": {"mamba2": "cpu.mamba2"},
        "mamba2_g2": {"mamba2": "cpu.mamba2"},
        "granite_hybrid": {"attention": "cpu.flash", "mamba2": "cpu.mamba2"},
        "nemotron_h": {"attention": "cpu.flash", "mamba2": "cpu.mamba2"},
        "qwen3_5_gdn": {"attention": "cpu.flash", "gated_deltanet": "cpu.gated_deltanet"},
        "fla_path_fox": {"path": "cpu.path"},
        "fla_gdn": {"gated_deltanet": "cpu.gated_deltanet"},
    }
    for name, backends in expected.items():
        model = os.path.join(TESTS, "golden", name, "model")
        r = run("--model", model, "--ids", "3,1,4,1,5", "--max-tokens", "3", "--temperature", "0",
                "--format", "json")
        out = json.loads(r.stdout) if r.returncode == 0 else {}
        check(out.get("backends") == backends, f"{name}: backends {out.get('backends')}")


def dump_logits():
    with open(os.path.join(GOLDEN, "golden.json")) as f:
        prompt = json.load(f)["prompts"][2]
    path = os.path.join(WORK, "logits.safetensors")
    r = run("--model", MODEL, "--ids", ",".join(map(str, prompt)), "--dump-logits", path)
    check(r.returncode == 0, "--dump-logits exits 0")
    shape, ours = st.tensor_f32(path, "logits")
    gshape, golden = st.tensor_f32(os.path.join(GOLDEN, "golden.safetensors"), "logits_2")
    check(shape == gshape == [len(prompt), 256], f"--dump-logits shape {shape}")
    worst = max(abs(a - b) for a, b in zip(ours, golden))
    check(worst <= 1e-3, f"--dump-logits within 1e-3 of the golden (max diff {worst:.2e})")


def broken_model(name, mutate):
    """A copy of the llama fixture with its weights or config altered by `mutate(dir)`."""
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(MODEL, d)
    mutate(d)
    return d


def rewrite(d, edit):
    path = os.path.join(d, "model.safetensors")
    header, data = st.read(path)
    header, data = edit(header, data)
    st.write(path, header, data)


def truncate(d):
    path = os.path.join(d, "model.safetensors")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def overlap(h, data):
    first = min((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])
    second = min((k for k in h if k not in ("__metadata__", first)),
                 key=lambda k: h[k]["data_offsets"][0])
    b, e = h[second]["data_offsets"]
    h[second]["data_offsets"] = [b - 4, e - 4]
    return h, data


def out_of_range(h, data):
    last = max((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][1])
    b, e = h[last]["data_offsets"]
    h[last]["data_offsets"] = [b, e + 64]
    return h, data


def dtype_mismatch(h, data):
    h["model.norm.weight"]["dtype"] = "BF16"
    return h, data


def shape_mismatch(h, data):
    h["model.embed_tokens.weight"]["shape"] = [64, 256]
    return h, data


def unsupported_arch(d):
    path = os.path.join(d, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["architectures"] = ["GPTNeoXForCausalLM"]
    with open(path, "w") as f:
        json.dump(config, f)


def bad_inputs():
    cases = [
        ("truncated safetensors", broken_model("truncated", truncate), "1,2,3", "truncated"),
        ("overlapping offsets", broken_model("overlap", lambda d: rewrite(d, overlap)), "1,2", "overlap"),
        ("out-of-range offsets", broken_model("range", lambda d: rewrite(d, out_of_range)), "1,2", "past the end"),
        ("dtype/size mismatch", broken_model("dtype", lambda d: rewrite(d, dtype_mismatch)), "1,2", "does not match"),
        ("shape mismatch", broken_model("shape", lambda d: rewrite(d, shape_mismatch)), "1,2", "expected [256, 64]"),
        ("unsupported architecture", broken_model("arch", unsupported_arch), "1,2", "unsupported architecture"),
        ("missing weight", broken_model("missing", lambda d: rewrite(
            d, lambda h, data: st.without_tensor(h, data, "model.layers.1.mlp.up_proj.weight"))),
         "1,2", "missing weight 'model.layers.1.mlp.up_proj.weight'"),
        ("id >= vocab", MODEL, "1,256,3", "outside the vocabulary"),
        ("negative id", MODEL, "1,-4", "outside the vocabulary"),
    ]
    for what, model, ids, needle in cases:
        r = run("--model", model, "--ids", ids, "--max-tokens", "2")
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 1, f"{what}: exit code 1 (got {r.returncode})")
        check(len(lines) == 1 and lines[0].startswith("junction-cli: error:") and needle in lines[0],
              f"{what}: one-line error containing '{needle}' (got {lines})")
    r = run("--model", MODEL, "--ids", "1,x")
    check(r.returncode == 2 and "--ids" in r.stderr, "malformed --ids: usage error")


os.makedirs(WORK, exist_ok=True)
golden_ids()
backends_per_fixture()
dump_logits()
bad_inputs()
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
