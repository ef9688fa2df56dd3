"""T5 and CLIP text encoders (transformers' own classes) built from a config dict and loaded in place."""
from __future__ import annotations

import torch

from .build import load_module
from .errors import ModelLoadError
from .keymaps import T5_TIED

TOKENIZER_ONLY_FIELDS = ("max_length",)


def _config(config_class, fields: dict):
    """transformers accepts (and keeps) any extra field, e.g. from a diffusers config.json."""
    return config_class(**{k: v for k, v in fields.items() if k not in TOKENIZER_ONLY_FIELDS})


def load_t5(tensors: dict, scales: dict, fields: dict, *, source: str, dtype, device, compute) -> torch.nn.Module:
    """``T5EncoderModel``; its FFN output layer ``wo`` is never stored in fp8 (transformers casts activations
    to ``wo``'s dtype), and stays fp32 under fp16 like transformers does."""
    from transformers import T5Config, T5EncoderModel

    config = _config(T5Config, fields)
    return load_module(
        lambda: T5EncoderModel(config),
        tensors,
        source=source,
        what="T5 text encoder",
        dtype=dtype,
        device=device,
        compute=compute,
        scales=scales,
        fp8_exclude=("DenseReluDense.wo",),
        keep_fp32=("wo",),
        tied={T5_TIED[0]: T5_TIED[1]},
    )


def load_clip(tensors: dict, scales: dict, fields: dict, *, source: str, dtype, device, compute) -> torch.nn.Module:
    """``CLIPTextModel`` (no projection; FLUX uses its pooled output)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = _config(CLIPTextConfig, fields)
    if config.hidden_size % config.num_attention_heads:
        raise ModelLoadError(
            f"{source}: CLIP hidden size {config.hidden_size} is not divisible by {config.num_attention_heads} heads; "
            "give 'num_attention_heads' in the file's fluxwire.config metadata"
        )
    return load_module(
        lambda: CLIPTextModel(config),
        tensors,
        source=source,
        what="CLIP text encoder",
        dtype=dtype,
        device=device,
        compute=compute,
        scales=scales,
    )
