"""Plain-PyTorch implementations of the five mixers (DESIGN.md §4) and the model shells.

Every module's parameter names are the Hugging Face / fla checkpoint names, so
`model.state_dict()` is the checkpoint (see export.py). The recurrent mixers are written in an
exact token-parallel O(T^2) form (T = 256 in training):
  * Mamba2: y = (L o C B^T) (dt x) + D x with L[t,s] = exp(sum_{r=s+1..t} dt_r A)  (SSD, one chunk)
  * Gated DeltaNet: the UT form over the whole sequence as one chunk (zero initial state)
  * PaTH: scores = Q K^T - tril(Q W^T) (I + strict_lower(diag(b) W W^T))^-1 diag(b) strict_lower(W K^T)
The scan parts run in float32 with autocast off; projections run under bf16 autocast.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- shared pieces
class RMSNorm(nn.Module):
    """Llama/fla RMSNorm (w * x_hat); zero_centered=True is Qwen3.5's (1 + w) * x_hat."""

    def __init__(self, dim, eps, zero_centered=False):
        super().__init__()
        self.eps = eps
        self.zero_centered = zero_centered
        self.weight = nn.Parameter(torch.zeros(dim) if zero_centered else torch.ones(dim))

    def forward(self, x):
        dt = x.dtype
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.zero_centered:
            return (xf * (1.0 + self.weight.float())).to(dt)
        return self.weight * xf.to(dt)


class SwiGLU(nn.Module):
    def __init__(self, d, ffn):
        super().__init__()
        self.gate_proj = nn.Linear(d, ffn, bias=False)
        self.up_proj = nn.Linear(d, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rope_cos_sin(T, rot_dim, theta, device):
    inv = 1.0 / (theta ** (torch.arange(0, rot_dim, 2, device=device, dtype=torch.float32) / rot_dim))
    f = torch.outer(torch.arange(T, device=device, dtype=torch.float32), inv)
    emb = torch.cat([f, f], -1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, -1)
    return torch.cat([-x2, x1], -1)


def apply_rope(x, cos, sin):
    """x [B, H, T, D]; rotates the first cos.shape[-1] dims (HF rotate_half convention)."""
    r = cos.shape[-1]
    xr = x[..., :r] * cos + rotate_half(x[..., :r]) * sin
    if r == x.shape[-1]:
        return xr
    return torch.cat([xr, x[..., r:]], -1)


def causal_depthwise_conv(conv, x):
    """x [B, T, C] -> [B, T, C]: nn.Conv1d with padding K-1, keep the first T outputs."""
    T = x.shape[1]
    return conv(x.transpose(1, 2))[..., :T].transpose(1, 2)


def sdpa(q, k, v, mask=None):
    """q [B,H,T,D], k/v [B,Hkv,T,D]; query head h reads kv head h // (H/Hkv)."""
    rep = q.shape[1] // k.shape[1]
    if rep > 1:
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
    dt = v.dtype
    q, k = q.to(dt), k.to(dt)
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def fp32_region():
    return torch.autocast("cuda", enabled=False)


# ----------------------------------------------------------------------------- attention
class Attention(nn.Module):
    """Llama / Mistral self_attn: RoPE, GQA, optional sliding window (mask passed in ctx)."""

    def __init__(self, d, H, Hkv, hd):
        super().__init__()
        self.H, self.Hkv, self.hd = H, Hkv, hd
        self.q_proj = nn.Linear(d, H * hd, bias=False)
        self.k_proj = nn.Linear(d, Hkv * hd, bias=False)
        self.v_proj = nn.Linear(d, Hkv * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, d, bias=False)

    def forward(self, x, ctx):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.Hkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.Hkv, self.hd).transpose(1, 2)
        cos, sin = ctx["rope"]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        o = sdpa(q, k, v, ctx.get("mask"))
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.hd))


class GatedAttention(nn.Module):
    """Qwen3.5 full_attention: q_proj gives [q | gate] per head, q/k RMSNorm (1+w),
    partial RoPE, output * sigmoid(gate)."""

    def __init__(self, d, H, Hkv, hd, eps):
        super().__init__()
        self.H, self.Hkv, self.hd = H, Hkv, hd
        self.q_proj = nn.Linear(d, H * hd * 2, bias=False)
        self.k_proj = nn.Linear(d, Hkv * hd, bias=False)
        self.v_proj = nn.Linear(d, Hkv * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, eps, zero_centered=True)
        self.k_norm = RMSNorm(hd, eps, zero_centered=True)

    def forward(self, x, ctx):
        B, T, _ = x.shape
        q, gate = self.q_proj(x).view(B, T, self.H, 2 * self.hd).chunk(2, -1)
        gate = gate.reshape(B, T, self.H * self.hd)
        q = self.q_norm(q).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, self.Hkv, self.hd)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.Hkv, self.hd).transpose(1, 2)
        cos, sin = ctx["rope"]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        o = sdpa(q, k, v).transpose(1, 2).reshape(B, T, self.H * self.hd)
        return self.o_proj(o * torch.sigmoid(gate))


# ----------------------------------------------------------------------------- PaTH
def l2norm_eps_in_sqrt(x, eps=1e-6):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + eps)


def path_core(q, k, v, w, beta, logf, scale):
    """PaTH attention, exact, token-parallel.
    q [B,H,T,D]; k, v, w [B,Hkv,T,D] (w unit rows); beta [B,Hkv,T] in (0,2);
    logf [B,H,T] (logsigmoid of the forget gate) or None. Returns [B,H,T,D].
    a_ij = q_i^T H_i ... H_{j+1} k_j, H_t = I - beta_t w_t w_t^T; logit = s (a_ij + F_i - F_j)."""
    rep = q.shape[1] // k.shape[1]
    if rep > 1:
        k, v, w = (t.repeat_interleave(rep, 1) for t in (k, v, w))
        beta = beta.repeat_interleave(rep, 1)
    T = q.shape[2]
    lower = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    m = (beta[..., :, None] * (w @ w.transpose(-1, -2))).tril(-1)          # strict lower, unit diag implied
    rhs = (beta[..., :, None] * (w @ k.transpose(-1, -2))).tril(-1)        # diag(b) strict_lower(W K^T)
    y = torch.linalg.solve_triangular(m, rhs, upper=False, unitriangular=True)
    qw = (q @ w.transpose(-1, -2)).tril()                                   # t <= i
    scores = q @ k.transpose(-1, -2) - qw @ y
    if logf is not None:
        Fc = logf.cumsum(-1)
        scores = scores + Fc[..., :, None] - Fc[..., None, :]
    logits = (scores * scale).masked_fill(~lower, float("-inf"))
    return torch.softmax(logits, -1) @ v


class PaTHAttention(nn.Module):
    """fla path_attn layer (use_low_rank_w, use_w_shortconv, optional forget gate)."""

    def __init__(self, d, H, Hkv, use_forget_gate=True, rank=32):
        super().__init__()
        self.H, self.Hkv, self.hd = H, Hkv, d // H
        kvd = Hkv * self.hd
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, kvd, bias=False)
        self.v_proj = nn.Linear(d, kvd, bias=False)
        self.w_proj = nn.Sequential(nn.Linear(d, rank, bias=False), nn.Linear(rank, kvd, bias=False))
        self.w_conv1d = nn.Conv1d(kvd, kvd, 3, groups=kvd, padding=2, bias=False)
        self.bt_proj = nn.Linear(d, Hkv, bias=True)
        self.use_forget_gate = use_forget_gate
        if use_forget_gate:
            self.g_proj = nn.Linear(d, H, bias=True)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x, ctx=None):
        B, T, _ = x.shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        w = F.silu(causal_depthwise_conv(self.w_conv1d, self.w_proj(x)))
        with fp32_region():
            xf = x.float()
            beta = 2.0 * torch.sigmoid(self.bt_proj(xf)).transpose(1, 2)                # [B,Hkv,T]
            logf = F.logsigmoid(self.g_proj(xf)).transpose(1, 2) if self.use_forget_gate else None
            heads = lambda t, n: t.float().view(B, T, n, self.hd).transpose(1, 2)
            w = l2norm_eps_in_sqrt(heads(w, self.Hkv))
            o = path_core(heads(q, self.H), heads(k, self.Hkv), heads(v, self.Hkv), w, beta, logf,
                          self.hd ** -0.5)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.hd).to(x.dtype))


# ----------------------------------------------------------------------------- Mamba2
class MambaGatedNorm(nn.Module):
    """HF MambaRMSNormGated: rmsnorm(y * silu(z)) over all of I, times w."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, y, z):
        dt = y.dtype
        h = y.float() * F.silu(z.float())
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dt)


def inv_softplus_dt(n, dt_min=1e-3, dt_max=1e-1, floor=1e-4):
    dt = torch.exp(torch.rand(n) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


class Mamba2Mixer(nn.Module):
    def __init__(self, d, nh, P, N, G, K, eps):
        super().__init__()
        self.nh, self.P, self.N, self.G = nh, P, N, G
        self.I = nh * P
        self.conv_dim = self.I + 2 * G * N
        self.in_proj = nn.Linear(d, self.I + self.conv_dim + nh, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, K, groups=self.conv_dim, padding=K - 1,
                                bias=True)
        self.dt_bias = nn.Parameter(inv_softplus_dt(nh))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, nh + 1, dtype=torch.float32)))
        self.D = nn.Parameter(torch.ones(nh))
        self.norm = MambaGatedNorm(self.I, eps)
        self.out_proj = nn.Linear(self.I, d, bias=False)

    def forward(self, x, ctx=None):
        B, T, _ = x.shape
        z, xbc, dt = self.in_proj(x).split([self.I, self.conv_dim, self.nh], -1)
        xbc = F.silu(causal_depthwise_conv(self.conv1d, xbc))
        with fp32_region():
            xs, Bm, Cm = xbc.float().split([self.I, self.G * self.N, self.G * self.N], -1)
            xs = xs.view(B, T, self.nh, self.P)
            rep = self.nh // self.G
            Bm = Bm.view(B, T, self.G, self.N).repeat_interleave(rep, 2)
            Cm = Cm.view(B, T, self.G, self.N).repeat_interleave(rep, 2)
            dt = F.softplus(dt.float() + self.dt_bias.float())                   # [B,T,nh]
            A = -torch.exp(self.A_log.float())
            cum = (dt * A).cumsum(1).transpose(1, 2)                             # [B,nh,T]
            lower = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            L = torch.exp((cum[..., :, None] - cum[..., None, :]).masked_fill(~lower, float("-inf")))
            cb = torch.einsum("bthn,bshn->bhts", Cm, Bm)
            y = torch.einsum("bhts,bshp->bthp", cb * L, xs * dt[..., None])
            y = y + xs * self.D.float()[:, None]
            y = self.norm(y.reshape(B, T, self.I), z)
        return self.out_proj(y)


# ----------------------------------------------------------------------------- Gated DeltaNet
class QwenGatedNorm(nn.Module):
    """Qwen3.5 RMSNormGated (per value head): w * rmsnorm(o), then * silu(z)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, o, z):
        dt = o.dtype
        h = o.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        h = self.weight * h.to(dt)
        return (h * F.silu(z.float())).to(dt)


def l2norm_rsqrt(x, eps=1e-6):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + eps)


def gdn_core(q, k, v, g, beta):
    """Gated delta rule from a zero state, exact (one UT chunk over the whole sequence).
    q, k [B,H,T,dk] (l2-normalized, q pre-scaled), v [B,H,T,dv], g (log decay) / beta [B,H,T]."""
    T = q.shape[2]
    lower = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    cum = g.cumsum(-1)
    dec = torch.exp((cum[..., :, None] - cum[..., None, :]).masked_fill(~lower, float("-inf")))
    kk = k @ k.transpose(-1, -2)
    m = (beta[..., :, None] * kk * dec).tril(-1)
    u = torch.linalg.solve_triangular(m, v * beta[..., None], upper=False, unitriangular=True)
    return ((q @ k.transpose(-1, -2)) * dec) @ u


class GatedDeltaNet(nn.Module):
    """Qwen3.5 linear_attention layer."""

    def __init__(self, d, nk, nv, dk, dv, K, eps):
        super().__init__()
        self.nk, self.nv, self.dk, self.dv = nk, nv, dk, dv
        self.key_dim, self.value_dim = nk * dk, nv * dv
        conv_dim = 2 * self.key_dim + self.value_dim
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, K, groups=conv_dim, padding=K - 1, bias=False)
        self.dt_bias = nn.Parameter(inv_softplus_dt(nv))
        self.A_log = nn.Parameter(torch.log(torch.empty(nv).uniform_(1.0, 16.0)))
        self.norm = QwenGatedNorm(dv, eps)
        self.out_proj = nn.Linear(self.value_dim, d, bias=False)
        self.in_proj_qkv = nn.Linear(d, conv_dim, bias=False)
        self.in_proj_z = nn.Linear(d, self.value_dim, bias=False)
        self.in_proj_b = nn.Linear(d, nv, bias=False)
        self.in_proj_a = nn.Linear(d, nv, bias=False)

    def forward(self, x, ctx=None):
        B, T, _ = x.shape
        qkv = F.silu(causal_depthwise_conv(self.conv1d, self.in_proj_qkv(x)))
        z = self.in_proj_z(x).view(B, T, self.nv, self.dv)
        with fp32_region():
            xf = x.float()
            beta = torch.sigmoid(self.in_proj_b(xf)).transpose(1, 2)            # [B,nv,T]
            g = (-torch.exp(self.A_log.float()) *
                 F.softplus(self.in_proj_a(xf) + self.dt_bias.float())).transpose(1, 2)
            q, k, v = qkv.float().split([self.key_dim, self.key_dim, self.value_dim], -1)
            q = l2norm_rsqrt(q.view(B, T, self.nk, self.dk)) * self.dk ** -0.5
            k = l2norm_rsqrt(k.view(B, T, self.nk, self.dk))
            rep = self.nv // self.nk
            q = q.repeat_interleave(rep, 2).transpose(1, 2)
            k = k.repeat_interleave(rep, 2).transpose(1, 2)
            v = v.view(B, T, self.nv, self.dv).transpose(1, 2)
            o = gdn_core(q, k, v, g, beta).transpose(1, 2)                      # [B,T,nv,dv]
            o = self.norm(o, z)
        o = o.reshape(B, T, self.value_dim)
        return self.out_proj(o)


# ----------------------------------------------------------------------------- shells
class Block(nn.Module):
    """Pre-norm residual block with HF attribute names: names = (norm1, mixer, norm2 | None)."""

    def __init__(self, names, mixer, d, eps, zero_centered=False, mlp=None, dropout=0.0):
        super().__init__()
        self.n1, self.mx, self.n2 = names
        setattr(self, self.n1, RMSNorm(d, eps, zero_centered))
        setattr(self, self.mx, mixer)
        if mlp is not None:
            setattr(self, self.n2, RMSNorm(d, eps, zero_centered))
            self.mlp = mlp
        self.has_mlp = mlp is not None
        self.drop = nn.Dropout(dropout)

    def forward(self, x, ctx):
        x = x + self.drop(getattr(self, self.mx)(getattr(self, self.n1)(x), ctx))
        if self.has_mlp:
            x = x + self.drop(self.mlp(getattr(self, self.n2)(x)))
        return x


class CausalLM(nn.Module):
    """prefix.{embed}.weight, prefix.layers.N..., prefix.{final_norm}.weight, lm_head.weight."""

    def __init__(self, prefix, embed_name, norm_name, layers, vocab, d, eps, zero_centered=False,
                 dropout=0.0, rope=None, window=None):
        super().__init__()
        self.prefix, self.embed_name, self.norm_name = prefix, embed_name, norm_name
        body = nn.Module()
        setattr(body, embed_name, nn.Embedding(vocab, d))
        body.layers = nn.ModuleList(layers)
        setattr(body, norm_name, RMSNorm(d, eps, zero_centered))
        setattr(self, prefix, body)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.drop = nn.Dropout(dropout)
        self.rope = rope          # (rot_dim, theta) or None
        self.window = window      # sliding window W (token itself + W-1 earlier) or None

    def context(self, T, device):
        ctx = {}
        if self.rope is not None:
            ctx["rope"] = rope_cos_sin(T, self.rope[0], self.rope[1], device)
        if self.window is not None:
            i = torch.arange(T, device=device)
            diff = i[:, None] - i[None, :]
            ctx["mask"] = (diff >= 0) & (diff < self.window)
        return ctx

    def forward(self, ids):
        body = getattr(self, self.prefix)
        x = self.drop(getattr(body, self.embed_name)(ids))
        ctx = self.context(ids.shape[1], ids.device)
        for layer in body.layers:
            x = layer(x, ctx)
        return self.lm_head(getattr(body, self.norm_name)(x))
