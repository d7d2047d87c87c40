#!/usr/bin/env python3
"""Cross-checks of the training code (run on the GPU machine; needs transformers for part 1).

1. llama, mistral_window, mamba2, gdn_hybrid: a randomly perturbed model is exported with the
   real exporter, loaded by transformers (AutoModelForCausalLM, eager attention, float32) with
   no missing/unexpected keys, and its logits are compared with ours (same bf16 weights, fp32).
2. path_fox: one PaTH layer against a float64 token-by-token reference that follows the decode
   rule of DESIGN.md §4 (transform every cached key by H_t, append k_t, softmax with gate bias).
3. Gated DeltaNet core (UT form) against the float64 recurrence.

    python3 tools/train/check.py --tokenizer DIR/tokenizer.json [--work /tmp/hfcheck]
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import models  # noqa: E402
import nets  # noqa: E402


def perturb(model, seed):
    """make_golden.py-style weights: O(1) activations, every norm / bias / D / A_log used."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g).to(p.device)
            if name.endswith("A_log"):
                p.copy_(torch.log(torch.rand(p.shape, generator=g) * 15 + 1).to(p.device))
            elif name.endswith("dt_bias"):
                p.copy_(0.5 * r - 1.0)
            elif p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(r * (1.0 if "embed" in name else 1.0 / math.sqrt(fan_in)))
            else:
                p.copy_(p + 0.3 * r)
            p.copy_(p.to(torch.bfloat16).float())  # exactly what the bf16 checkpoint holds


def hf_check(name, tok_json, work):
    import transformers as T
    torch.manual_seed(0)
    m = models.build(name).cuda().eval()
    perturb(m, 7)
    d = os.path.join(work, name)
    export.write_model_dir(m, name, d, tok_json)
    hf, info = T.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                      attn_implementation="eager",
                                                      output_loading_info=True)
    hf = hf.cuda().eval()
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys",
                                                         "mismatched_keys")}
    ids = torch.randint(3, models.VOCAB, (2, 256), generator=torch.Generator().manual_seed(1))
    ids = ids.cuda()
    with torch.no_grad():
        a = m(ids).float()
        b = hf(ids).logits.float()
    err = float((a - b).abs().max())
    scale = float(b.abs().max())
    ok = not bad and err <= 2e-3 * max(1.0, scale)
    return {"ok": ok, "max_abs_diff": err, "max_abs_logit": scale, "loading_problems": str(bad),
            "hf_class": type(hf).__name__}


def path_reference(layer, x):
    """float64, token by token, keys transformed in the cache (DESIGN.md §4 decode rule)."""
    W = {k: v.detach().double().cpu() for k, v in layer.state_dict().items()}
    x = x.double().cpu()[0]
    T, _ = x.shape
    H, Hkv, hd = layer.H, layer.Hkv, layer.hd
    q = (x @ W["q_proj.weight"].T).view(T, H, hd)
    k = (x @ W["k_proj.weight"].T).view(T, Hkv, hd)
    v = (x @ W["v_proj.weight"].T).view(T, Hkv, hd)
    w0 = x @ W["w_proj.0.weight"].T @ W["w_proj.1.weight"].T            # [T, kvd]
    cw = W["w_conv1d.weight"][:, 0, :]                                   # [kvd, 3]
    wc = torch.zeros_like(w0)
    for t in range(T):
        for j in range(3):
            s = t - 2 + j
            if s >= 0:
                wc[t] += cw[:, j] * w0[s]
    wc = F.silu(wc).view(T, Hkv, hd)
    wc = wc / torch.sqrt((wc * wc).sum(-1, keepdim=True) + 1e-6)
    beta = 2 * torch.sigmoid(x @ W["bt_proj.weight"].T + W["bt_proj.bias"])  # [T, Hkv]
    Fc = F.logsigmoid(x @ W["g_proj.weight"].T + W["g_proj.bias"]).cumsum(0)  # [T, H]
    s = hd ** -0.5
    out = torch.zeros(T, H, hd, dtype=torch.float64)
    rep = H // Hkv
    for h in range(H):
        kvh = h // rep
        cache = []
        for t in range(T):
            for i in range(len(cache)):
                kt = cache[i]
                cache[i] = kt - beta[t, kvh] * (kt @ wc[t, kvh]) * wc[t, kvh]
            cache.append(k[t, kvh].clone())
            K = torch.stack(cache)
            logits = s * (K @ q[t, h] + Fc[t, h] - Fc[: t + 1, h])
            out[t, h] = torch.softmax(logits, 0) @ v[: t + 1, kvh]
    return out.reshape(T, H * hd) @ W["o_proj.weight"].T


def path_check():
    torch.manual_seed(3)
    res = {}
    for H, Hkv in ((4, 4), (4, 2)):
        layer = nets.PaTHAttention(64, H, Hkv, use_forget_gate=True).cuda().float()
        perturb(layer, 11)
        with torch.no_grad():
            layer.g_proj.bias.add_(2.0)
        x = torch.randn(1, 96, 64, device="cuda")
        with torch.no_grad():
            a = layer(x)[0].double().cpu()
        b = path_reference(layer, x)
        err = float((a - b).abs().max())
        res[f"H{H}_Hkv{Hkv}"] = {"max_abs_diff": err, "max_abs": float(b.abs().max()),
                                 "ok": err <= 1e-4 * max(1.0, float(b.abs().max()))}
    return res


def gdn_core_check():
    g = torch.Generator().manual_seed(5)
    B, H, T, dk, dv = 1, 2, 256, 16, 8
    q = F.normalize(torch.randn(B, H, T, dk, generator=g), dim=-1) * dk ** -0.5
    k = F.normalize(torch.randn(B, H, T, dk, generator=g), dim=-1)
    v = torch.randn(B, H, T, dv, generator=g)
    gl = -torch.rand(B, H, T, generator=g) * 0.5
    beta = torch.rand(B, H, T, generator=g)
    a = nets.gdn_core(q.cuda(), k.cuda(), v.cuda(), gl.cuda(), beta.cuda()).double().cpu()
    q, k, v, gl, beta = (t.double() for t in (q, k, v, gl, beta))
    S = torch.zeros(B, H, dk, dv, dtype=torch.float64)
    ref = torch.zeros(B, H, T, dv, dtype=torch.float64)
    for t in range(T):
        S = S * gl[..., t].exp()[..., None, None]
        kt = k[..., t, :]
        delta = (v[..., t, :] - (S * kt[..., None]).sum(-2)) * beta[..., t, None]
        S = S + kt[..., None] * delta[..., None, :]
        ref[..., t, :] = (S * q[..., t, :, None]).sum(-2)
    err = float((a - ref).abs().max())
    return {"max_abs_diff": err, "ok": err < 1e-4}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--work", default="/tmp/hfcheck")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    res = {}
    for name in ("llama", "mistral_window", "mamba2", "gdn_hybrid"):
        try:
            res[name] = hf_check(name, a.tokenizer, a.work)
        except Exception as ex:  # one failure must not hide the others
            res[name] = {"ok": False, "error": f"{type(ex).__name__}: {ex}"}
        print(name, res[name], flush=True)
    for key, fn in (("path_fox_layer_vs_float64_decode", path_check),
                    ("gdn_core_vs_recurrence", gdn_core_check)):
        try:
            res[key] = fn()
        except Exception as ex:
            res[key] = {"ok": False, "error": f"{type(ex).__name__}: {ex}"}
        print(key, res[key], flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
