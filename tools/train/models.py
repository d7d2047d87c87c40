"""The five bundled models: architecture hyper-parameters, builders and config.json contents.

Config keys follow the fixtures in shared/fixtures (transformers 5.17 / fla 0.5.2 spellings).
"""
import math

import torch.nn as nn

import nets

VOCAB = 2048
D = 256
EPS = 1e-6
FFN = 704
PAD, BOS, EOS = 0, 1, 2
MAX_POS = 4096  # what the engine may run to; the models were trained on 256-token windows
COMMON = {"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD, "vocab_size": VOCAB,
          "hidden_size": D, "tie_word_embeddings": False, "transformers_version": "5.17.0",
          "use_cache": True, "dtype": "bfloat16"}
ROPE = {"rope_theta": 10000.0, "rope_type": "default"}

LLAMA = dict(layers=8, heads=4, kv_heads=2, head_dim=64)
MAMBA2 = dict(layers=14, heads=8, head_dim=64, state=64, groups=1, conv=4)
PATH = dict(layers=8, heads=4, kv_heads=4)
HYBRID = dict(layer_types=["linear_attention"] * 3 + ["full_attention"] + ["linear_attention"] * 3
              + ["full_attention"], heads=4, kv_heads=2, head_dim=64, lin_k_heads=2, lin_v_heads=4,
              lin_k_dim=64, lin_v_dim=64, conv=4, partial_rotary=0.25)
WINDOW = 64

NAMES = ["llama", "mistral_window", "path_fox", "mamba2", "gdn_hybrid"]


def _llama_like(window, dropout):
    c = LLAMA
    layers = [nets.Block(("input_layernorm", "self_attn", "post_attention_layernorm"),
                         nets.Attention(D, c["heads"], c["kv_heads"], c["head_dim"]), D, EPS,
                         mlp=nets.SwiGLU(D, FFN), dropout=dropout) for _ in range(c["layers"])]
    return nets.CausalLM("model", "embed_tokens", "norm", layers, VOCAB, D, EPS, dropout=dropout,
                         rope=(c["head_dim"], ROPE["rope_theta"]), window=window)


def _path(dropout):
    c = PATH
    layers = [nets.Block(("attn_norm", "attn", "mlp_norm"),
                         nets.PaTHAttention(D, c["heads"], c["kv_heads"], use_forget_gate=True), D,
                         EPS, mlp=nets.SwiGLU(D, FFN), dropout=dropout) for _ in range(c["layers"])]
    return nets.CausalLM("model", "embeddings", "norm", layers, VOCAB, D, EPS, dropout=dropout)


def _mamba2(dropout):
    c = MAMBA2
    layers = [nets.Block(("norm", "mixer", None),
                         nets.Mamba2Mixer(D, c["heads"], c["head_dim"], c["state"], c["groups"],
                                          c["conv"], 1e-5), D, 1e-5, dropout=dropout)
              for _ in range(c["layers"])]
    return nets.CausalLM("backbone", "embeddings", "norm_f", layers, VOCAB, D, 1e-5,
                         dropout=dropout)


def _hybrid(dropout):
    c = HYBRID
    layers = []
    for t in c["layer_types"]:
        if t == "linear_attention":
            mixer, name = nets.GatedDeltaNet(D, c["lin_k_heads"], c["lin_v_heads"], c["lin_k_dim"],
                                             c["lin_v_dim"], c["conv"], EPS), "linear_attn"
        else:
            mixer, name = nets.GatedAttention(D, c["heads"], c["kv_heads"], c["head_dim"], EPS), \
                "self_attn"
        layers.append(nets.Block(("input_layernorm", name, "post_attention_layernorm"), mixer, D,
                                 EPS, zero_centered=True, mlp=nets.SwiGLU(D, FFN), dropout=dropout))
    rot = int(c["head_dim"] * c["partial_rotary"])
    return nets.CausalLM("model", "embed_tokens", "norm", layers, VOCAB, D, EPS,
                         zero_centered=True, dropout=dropout, rope=(rot, ROPE["rope_theta"]))


def build(name, dropout=0.0):
    m = {"llama": lambda: _llama_like(None, dropout),
         "mistral_window": lambda: _llama_like(WINDOW, dropout),
         "path_fox": lambda: _path(dropout),
         "mamba2": lambda: _mamba2(dropout),
         "gdn_hybrid": lambda: _hybrid(dropout)}[name]()
    init_weights(m, num_layers(name))
    return m


def num_layers(name):
    return {"llama": LLAMA["layers"], "mistral_window": LLAMA["layers"],
            "path_fox": PATH["layers"], "mamba2": MAMBA2["layers"],
            "gdn_hybrid": len(HYBRID["layer_types"])}[name]


def init_weights(model, n_layers):
    """N(0, 0.02) for matrices, output projections scaled by 1/sqrt(2L); conv weights keep
    PyTorch's default; PaTH's forget-gate bias starts at 3 (little forgetting)."""
    out_std = 0.02 / math.sqrt(2 * n_layers)
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            last = name.rsplit(".", 1)[-1]
            std = out_std if last in ("o_proj", "down_proj", "out_proj") else 0.02
            nn.init.normal_(mod.weight, 0.0, std)
            if getattr(mod, "bias", None) is not None:
                nn.init.zeros_(mod.bias)
            if last == "g_proj" and isinstance(mod, nn.Linear) and mod.bias is not None:
                nn.init.constant_(mod.bias, 3.0)


# ----------------------------------------------------------------------------- config.json
def hf_config(name):
    if name in ("llama", "mistral_window"):
        c = LLAMA
        cfg = dict(COMMON, attention_dropout=0.0, head_dim=c["head_dim"], hidden_act="silu",
                   initializer_range=0.02, intermediate_size=FFN, max_position_embeddings=MAX_POS,
                   num_attention_heads=c["heads"], num_hidden_layers=c["layers"],
                   num_key_value_heads=c["kv_heads"], rms_norm_eps=EPS, rope_parameters=dict(ROPE))
        if name == "llama":
            cfg.update(architectures=["LlamaForCausalLM"], model_type="llama", attention_bias=False,
                       mlp_bias=False, pretraining_tp=1)
        else:
            cfg.update(architectures=["MistralForCausalLM"], model_type="mistral",
                       sliding_window=WINDOW)
    elif name == "path_fox":
        c = PATH
        cfg = dict(COMMON, architectures=["PaTHAttentionForCausalLM"], attnres_block_size=None,
                   elementwise_affine=True, fuse_cross_entropy=False,
                   fuse_linear_cross_entropy=False, fuse_norm=False, fuse_swiglu=False,
                   hidden_act="swish", hidden_ratio=4, initializer_range=0.02,
                   intermediate_size=FFN, model_type="path_attn", norm_eps=EPS,
                   num_heads=c["heads"], num_hidden_layers=c["layers"], num_kv_heads=c["kv_heads"],
                   use_forget_gate=True, use_l2warp=False, use_low_rank_w=True,
                   use_w_shortconv=True)
    elif name == "mamba2":
        c = MAMBA2
        cfg = dict(COMMON, architectures=["Mamba2ForCausalLM"], chunk_size=64,
                   conv_kernel=c["conv"], expand=2, head_dim=c["head_dim"], hidden_act="silu",
                   initializer_range=0.1, layer_norm_epsilon=1e-5, max_position_embeddings=MAX_POS,
                   model_type="mamba2", n_groups=c["groups"], num_heads=c["heads"],
                   num_hidden_layers=c["layers"], rescale_prenorm_residual=False,
                   residual_in_fp32=True, state_size=c["state"], time_step_floor=0.0001,
                   time_step_limit=[0.0, {"__float__": "Infinity"}], time_step_max=0.1,
                   time_step_min=0.001, time_step_rank=16, use_bias=False, use_conv_bias=True)
    elif name == "gdn_hybrid":
        c = HYBRID
        rope = dict(ROPE, partial_rotary_factor=c["partial_rotary"])
        cfg = dict(COMMON, architectures=["Qwen3_5ForCausalLM"], attention_bias=False,
                   attention_dropout=0.0, head_dim=c["head_dim"], hidden_act="silu",
                   initializer_range=0.02, intermediate_size=FFN, layer_types=list(c["layer_types"]),
                   linear_conv_kernel_dim=c["conv"], linear_key_head_dim=c["lin_k_dim"],
                   linear_num_key_heads=c["lin_k_heads"], linear_num_value_heads=c["lin_v_heads"],
                   linear_value_head_dim=c["lin_v_dim"], max_position_embeddings=MAX_POS,
                   model_type="qwen3_5_text", num_attention_heads=c["heads"],
                   num_hidden_layers=len(c["layer_types"]), num_key_value_heads=c["kv_heads"],
                   partial_rotary_factor=c["partial_rotary"], rms_norm_eps=EPS,
                   rope_parameters=rope)
    else:
        raise KeyError(name)
    return dict(sorted(cfg.items()))
