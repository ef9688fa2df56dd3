"""Test-side LoRA writers: one random low-rank update per BFL layer, written out in every layout people
download. Written from the published key conventions, independently of flux_core.lora."""
from __future__ import annotations

import torch
from torch import nn

# BFL layer suffix -> diffusers layer name(s) (split parts for fused layers)
DOUBLE = {
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "img_attn.proj": ("attn.to_out.0",), "txt_attn.proj": ("attn.to_add_out",),
    "img_mlp.0": ("ff.net.0.proj",), "img_mlp.2": ("ff.net.2",),
    "txt_mlp.0": ("ff_context.net.0.proj",), "txt_mlp.2": ("ff_context.net.2",),
    "img_mod.lin": ("norm1.linear",), "txt_mod.lin": ("norm1_context.linear",),
}
SINGLE = {"linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), "linear2": ("proj_out",),
          "modulation.lin": ("norm.linear",)}
TOP = {"img_in": "x_embedder", "txt_in": "context_embedder", "final_layer.linear": "proj_out",
       "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
       "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
       "final_layer.adaLN_modulation.1": "norm_out.linear"}  # halves swapped in diffusers


def layer_shapes(model: nn.Module) -> dict[str, tuple[int, int]]:
    return {n: (m.out_features, m.in_features) for n, m in model.named_modules() if isinstance(m, nn.Linear)}


def random_update(model: nn.Module, rank: int = 4, alpha: float = 2.0, seed: int = 0, layers=None,
                  std: float = 0.3) -> dict[str, tuple[torch.Tensor, torch.Tensor, float]]:
    """BFL layer -> (down [r, in], up [out, r], alpha), for every linear layer of the model (or ``layers``)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, (o, i) in layer_shapes(model).items():
        if layers is not None and not any(name.endswith(s) for s in layers):
            continue
        out[name] = (std * torch.randn(rank, i, generator=g), std * torch.randn(o, rank, generator=g), alpha)
    return out


def effective(model: nn.Module, update, strength: float = 1.0) -> dict[str, torch.Tensor]:
    """Base weight + strength * alpha/rank * up @ down for every layer of the update."""
    out = {}
    for name, (down, up, alpha) in update.items():
        w = model.get_submodule(name).weight.detach().float()
        out[name] = w + strength * (alpha / down.shape[0]) * (up @ down)
    return out


def _diffusers_parts(name: str, up: torch.Tensor, hidden: int):
    """(diffusers layer name, up rows) for one BFL layer name; None when diffusers has no such layer."""
    parts = name.split(".")
    if parts[0] == "double_blocks":
        suffix = ".".join(parts[2:])
        dnames = DOUBLE.get(suffix)
        prefix = f"transformer_blocks.{parts[1]}."
    elif parts[0] == "single_blocks":
        suffix = ".".join(parts[2:])
        dnames = SINGLE.get(suffix)
        prefix = f"single_transformer_blocks.{parts[1]}."
    else:
        dnames = (TOP[name],) if name in TOP else None
        prefix = ""
    if dnames is None:
        return None
    if name == "final_layer.adaLN_modulation.1":
        a, b = up.chunk(2)
        return [(prefix + dnames[0], torch.cat([b, a]))]
    if len(dnames) == 1:
        return [(prefix + dnames[0], up)]
    sizes = [hidden] * 3 + ([up.shape[0] - 3 * hidden] if len(dnames) == 4 else [])
    return [(prefix + d, u) for d, u in zip(dnames, torch.split(up, sizes))]


def bfl_comfy(update, style: str = "lora_A", prefix: str = "diffusion_model.") -> dict:
    """BFL/ComfyUI: ``diffusion_model.<bfl>.lora_A.weight`` (or lora_down/lora_up) and ``.alpha``."""
    a, b = ("lora_A", "lora_B") if style == "lora_A" else ("lora_down", "lora_up")
    sd = {}
    for name, (down, up, alpha) in update.items():
        sd[f"{prefix}{name}.{a}.weight"] = down
        sd[f"{prefix}{name}.{b}.weight"] = up
        sd[f"{prefix}{name}.alpha"] = torch.tensor(alpha)
    return sd


def kohya(update) -> dict:
    """sd-scripts: ``lora_unet_<bfl with _>.lora_down.weight`` / ``lora_up`` / ``alpha``."""
    sd = {}
    for name, (down, up, alpha) in update.items():
        key = "lora_unet_" + name.replace(".", "_")
        sd[f"{key}.lora_down.weight"] = down
        sd[f"{key}.lora_up.weight"] = up
        sd[f"{key}.alpha"] = torch.tensor(alpha)
    return sd


def diffusers_peft(update, hidden: int, fold_alpha: bool = True) -> dict:
    """diffusers/PEFT: ``transformer.<diffusers>.lora_A.weight``; no alpha keys, so alpha/rank is folded
    into lora_B (what diffusers' own converters do)."""
    sd = {}
    for name, (down, up, alpha) in update.items():
        scale = alpha / down.shape[0]
        parts = _diffusers_parts(name, up, hidden)
        if parts is None:
            continue
        for dname, u in parts:
            sd[f"transformer.{dname}.lora_A.weight"] = down
            sd[f"transformer.{dname}.lora_B.weight"] = u * scale if fold_alpha else u
    return sd


def ai_toolkit(update, hidden: int) -> dict:
    """ai-toolkit/SimpleTuner-style: diffusers names with lora_down/lora_up and an ``.alpha`` per layer."""
    sd = {}
    for name, (down, up, alpha) in update.items():
        parts = _diffusers_parts(name, up, hidden)
        for dname, u in parts or []:
            sd[f"transformer.{dname}.lora_down.weight"] = down
            sd[f"transformer.{dname}.lora_up.weight"] = u
            sd[f"transformer.{dname}.alpha"] = torch.tensor(alpha)
    return sd


def kohya_diffusers_names(update, hidden: int) -> dict:
    """kohya with diffusers names: ``lora_transformer_single_transformer_blocks_0_attn_to_q.lora_down.weight``."""
    sd = {}
    for name, (down, up, alpha) in update.items():
        for dname, u in _diffusers_parts(name, up, hidden) or []:
            key = "lora_transformer_" + dname.replace(".", "_")
            sd[f"{key}.lora_down.weight"] = down
            sd[f"{key}.lora_up.weight"] = u
            sd[f"{key}.alpha"] = torch.tensor(alpha)
    return sd


XLABS_DOUBLE = {"img_attn.qkv": "qkv_lora1", "txt_attn.qkv": "qkv_lora2", "img_attn.proj": "proj_lora1",
                "txt_attn.proj": "proj_lora2"}


def xlabs(update) -> dict:
    """XLabs: ``double_blocks.N.processor.qkv_lora1.down.weight`` (double-block attention only; no alpha:
    alpha/rank folded into up)."""
    sd = {}
    for name, (down, up, alpha) in update.items():
        parts = name.split(".")
        suffix = ".".join(parts[2:])
        if parts[0] != "double_blocks" or suffix not in XLABS_DOUBLE:
            raise ValueError(f"XLabs files hold only double-block attention layers, not {name}")
        key = f"double_blocks.{parts[1]}.processor.{XLABS_DOUBLE[suffix]}"
        sd[f"{key}.down.weight"] = down
        sd[f"{key}.up.weight"] = up * (alpha / down.shape[0])
    return sd


def save(sd: dict, path) -> None:
    """Write a state dict as safetensors (each tensor its own copy: layouts may reuse one down matrix)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().clone().contiguous() for k, v in sd.items()}, str(path))
