"""Writes a trained model as a Hugging Face-style snapshot the engine loads."""
import json
import os
import shutil

import torch
from safetensors.torch import save_file

import models

CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant: {% endif %}")


def tokenizer_config():
    return {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": models.MAX_POS,
            "clean_up_tokenization_spaces": False, "add_bos_token": False,
            "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>",
            "chat_template": CHAT_TEMPLATE}


def generation_config():
    return {"bos_token_id": models.BOS, "eos_token_id": models.EOS, "pad_token_id": models.PAD,
            "do_sample": True, "temperature": 0.8, "top_k": 50, "top_p": 0.95,
            "transformers_version": "5.17.0"}


def checkpoint_tensors(model):
    return {k: v.detach().to(torch.bfloat16).contiguous().cpu()
            for k, v in model.state_dict().items()}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_model_dir(model, name, d, tokenizer_json):
    os.makedirs(d, exist_ok=True)
    save_file(checkpoint_tensors(model), os.path.join(d, "model.safetensors"),
              metadata={"format": "pt"})
    write_json(os.path.join(d, "config.json"), models.hf_config(name))
    write_json(os.path.join(d, "tokenizer_config.json"), tokenizer_config())
    write_json(os.path.join(d, "generation_config.json"), generation_config())
    shutil.copyfile(tokenizer_json, os.path.join(d, "tokenizer.json"))
