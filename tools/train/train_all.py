#!/usr/bin/env python3
"""Train Junction's five bundled default models on Tiny Shakespeare, seeded, in one command.

    python3 tools/train/train_all.py --out DIR [--only llama,mamba2] [--seed 1234] [--smoke]

Writes DIR/<name>/ (config.json, model.safetensors in bf16, tokenizer.json,
tokenizer_config.json, generation_config.json, training_report.json), DIR/tokenizer.json and
DIR/summary.json. Needs a CUDA GPU, torch, safetensors and tokenizers (not transformers).
Validation perplexity is defined in docs/quality.md and tools/eval/perplexity.md.
"""
import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import argparse
import hashlib
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import models  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(REPO, "tests", "data", "tinyshakespeare.txt")
CTX = 256
TRAIN_END, DEV_END = 0.85, 0.90  # train = [0, 85%), dev (checkpoint choice) = [85%, 90%), val = rest

# Per-model schedule. Steps are fixed (not time-based) so a rerun reproduces the run.
HP = dict(batch=32, lr=2e-3, min_lr_frac=0.1, warmup=100, weight_decay=0.1, betas=(0.9, 0.95),
          clip=1.0, dropout=0.2, eval_every=100, patience=3)
STEPS = {"llama": 1000, "mistral_window": 1000, "path_fox": 1000, "mamba2": 1000,
         "gdn_hybrid": 1000}


# ----------------------------------------------------------------------------- data
def split_text(text):
    a, b = int(len(text) * TRAIN_END), int(len(text) * DEV_END)
    return text[:a], text[a:b], text[b:]


def train_tokenizer(train_text, path):
    from tokenizers import Tokenizer, decoders, models as tm, pre_tokenizers, trainers
    tok = Tokenizer(tm.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=models.VOCAB, min_frequency=2, show_progress=False,
                                  special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train_text.splitlines(keepends=True), trainer)
    assert tok.token_to_id("<pad>") == models.PAD and tok.token_to_id("<s>") == models.BOS
    assert tok.token_to_id("</s>") == models.EOS
    assert tok.get_vocab_size() <= models.VOCAB, tok.get_vocab_size()
    tok.save(path)
    return tok


def encode(tok, text):
    return torch.tensor(tok.encode(text, add_special_tokens=False).ids, dtype=torch.long)


def windows(ids, T=CTX):
    n = ids.numel() // T
    return ids[: n * T].view(n, T)


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def window_nll(model, wins, autocast, bs=32):
    """Per-window summed NLL of tokens 1..T-1 given their prefix inside the window (float64)."""
    model.eval()
    out = []
    for chunk in wins.split(bs):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(chunk)
        logp = torch.log_softmax(logits.float(), -1)
        nll = -logp[:, :-1].gather(-1, chunk[:, 1:, None]).squeeze(-1)
        out.append(nll.double().sum(1))
    model.train()
    return torch.cat(out)


def val_perplexity(model, wins):
    """The reported number: bf16-rounded weights (as exported), float32 compute, no TF32."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    prev = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    per_win = window_nll(model, wins, autocast=False, bs=16)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = prev
    model.load_state_dict(saved)
    scored = wins.shape[0] * (wins.shape[1] - 1)
    nll = float(per_win.sum()) / scored
    return math.exp(nll), nll, scored, per_win.tolist()


# ----------------------------------------------------------------------------- training
def param_groups(model, wd):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() == 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step, total, hp):
    if step < hp["warmup"]:
        return hp["lr"] * (step + 1) / hp["warmup"]
    t = (step - hp["warmup"]) / max(1, total - hp["warmup"])
    return hp["lr"] * (hp["min_lr_frac"] + (1 - hp["min_lr_frac"]) * 0.5 * (1 + math.cos(math.pi * t)))


def train_one(name, data, seed, steps, hp, log):
    torch.manual_seed(seed)
    model = models.build(name, dropout=hp["dropout"]).cuda()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(param_groups(model, hp["weight_decay"]), lr=hp["lr"],
                            betas=hp["betas"], eps=1e-8, fused=True)
    gen = torch.Generator().manual_seed(seed + 1)
    train_ids = data["train"].cuda()
    offs = torch.arange(CTX + 1, device="cuda")
    dev_wins = windows(data["dev"]).cuda()
    best = (float("inf"), -1, None)
    dev_curve, train_curve, since_best, step = [], [], 0, 0
    torch.cuda.synchronize()
    t0 = time.time()
    running = torch.zeros((), device="cuda")
    for step in range(steps):
        for gparam in opt.param_groups:
            gparam["lr"] = lr_at(step, steps, hp)
        starts = torch.randint(0, train_ids.numel() - CTX - 1, (hp["batch"],), generator=gen)
        seq = train_ids[starts.cuda()[:, None] + offs]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(seq[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp["clip"])
        opt.step()
        running += loss.detach()
        if (step + 1) % hp["eval_every"] == 0 or step + 1 == steps:
            k = (step % hp["eval_every"]) + 1
            tr = float(running) / k
            running.zero_()
            per = window_nll(model, dev_wins, autocast=True)
            dev = float(per.sum()) / (dev_wins.shape[0] * (CTX - 1))
            dev_curve.append([step + 1, round(dev, 5)])
            train_curve.append([step + 1, round(tr, 5)])
            log(f"  {name} step {step + 1:5d}  train {tr:.4f}  dev {dev:.4f}  "
                f"({time.time() - t0:.1f} s)")
            if dev < best[0]:
                best = (dev, step + 1, {k2: v.detach().clone() for k2, v in model.state_dict().items()})
                since_best = 0
            else:
                since_best += 1
                if since_best >= hp["patience"]:
                    log(f"  {name}: dev loss has not improved for {since_best} evals: stop")
                    break
    torch.cuda.synchronize()
    wall = time.time() - t0
    model.load_state_dict(best[2])
    return model, dict(params=n_params, steps_run=step + 1, best_step=best[1], best_dev_nll=best[0],
                       wall_time_s=round(wall, 1), dev_curve=dev_curve, train_curve=train_curve,
                       ms_per_step=round(1000 * wall / (step + 1), 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--smoke", action="store_true", help="30 steps per model, for checking code")
    a = ap.parse_args()
    names = [n for n in models.NAMES if not a.only or n in a.only.split(",")]
    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "train.log"), "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_float32_matmul_precision("high")
    text = open(CORPUS, encoding="utf-8").read()
    train_text, dev_text, val_text = split_text(text)
    tok_path = os.path.join(a.out, "tokenizer.json")
    tok = train_tokenizer(train_text, tok_path)
    tok_sha = hashlib.sha256(open(tok_path, "rb").read()).hexdigest()
    data = {"train": encode(tok, train_text), "dev": encode(tok, dev_text),
            "val": encode(tok, val_text)}
    log(f"tokenizer: vocab {tok.get_vocab_size()}, sha256 {tok_sha[:16]}; tokens train "
        f"{data['train'].numel()} dev {data['dev'].numel()} val {data['val'].numel()}")
    with open(os.path.join(a.out, "val_ids.json"), "w") as f:
        json.dump(data["val"].tolist(), f)
    val_wins = windows(data["val"]).cuda()
    device = torch.cuda.get_device_name()
    summary = {"seed": a.seed, "device": device, "torch": torch.__version__,
               "tokenizer_sha256": tok_sha, "models": {}}
    hp = dict(HP)
    for name in names:
        steps = 30 if a.smoke else STEPS[name]
        if a.smoke:
            hp = dict(HP, eval_every=15, warmup=10)
        log(f"== {name}: {steps} steps max")
        model, rep = train_one(name, data, a.seed, steps, hp, log)
        t0 = time.time()
        ppl, nll, scored, per_win = val_perplexity(model, val_wins)
        log(f"  {name}: params {rep['params']}, best step {rep['best_step']}, "
            f"val ppl {ppl:.3f} (nll {nll:.4f}, {scored} tokens, eval {time.time() - t0:.1f} s)")
        d = os.path.join(a.out, name)
        export.write_model_dir(model, name, d, tok_path)
        report = dict(model=name, architecture=models.hf_config(name)["architectures"][0],
                      seed=a.seed, device=device, torch=torch.__version__,
                      tokenizer_sha256=tok_sha, hyperparameters=dict(hp, max_steps=steps),
                      context=CTX, corpus="tests/data/tinyshakespeare.txt",
                      split={"train": [0.0, TRAIN_END], "dev": [TRAIN_END, DEV_END],
                             "val": [DEV_END, 1.0], "unit": "characters"},
                      val={"perplexity": round(ppl, 4), "nll": round(nll, 6),
                           "tokens_scored": scored, "windows": int(val_wins.shape[0]),
                           "definition": "docs/quality.md#perplexity-definition",
                           "weights": "bf16 as exported, float32 compute"},
                      **rep)
        report["val_nll_per_window"] = [round(x, 5) for x in per_win]
        with open(os.path.join(d, "training_report.json"), "w") as f:
            json.dump(report, f, indent=1)
        summary["models"][name] = {k: report[k] for k in ("params", "steps_run", "best_step",
                                                          "wall_time_s", "ms_per_step")}
        summary["models"][name]["val_ppl"] = round(ppl, 4)
        del model
        torch.cuda.empty_cache()
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log(json.dumps(summary["models"], indent=1))


if __name__ == "__main__":
    main()
