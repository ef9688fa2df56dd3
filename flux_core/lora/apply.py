"""Patched copies of a FLUX model and of the text encoders for a list of (LoRA, strength).

The base modules are never modified (see :mod:`.patch`); each call returns a new shallow copy that
shares every unpatched module and every base tensor. Chaining (a LoRA on an already patched model)
extends the wrappers of the copy it is given, which is how ``LoadLoRA`` nodes stack.
"""
from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from .formats import LoRA
from .keys import CLIP, MODEL, T5
from .patch import CopyOnWrite, LoRALinear, unwrap


def _dequantized_weight(layer: nn.Module, dtype: torch.dtype) -> torch.Tensor:
    w = layer.weight.to(dtype)
    scale = getattr(layer, "scale_weight", None)
    return w * scale.to(dtype) if scale is not None else w


def _widen_img_in(patch: CopyOnWrite, channels: int) -> None:
    """A control LoRA's img_in reads ``channels`` inputs: the base weight for the first ones, zeros after."""
    from ..loading.fp8 import module_compute_dtype
    from ..models.layers import Linear

    root = patch.result
    current = root.img_in
    base = unwrap(current)
    if base.in_features >= channels:
        return
    dtype = module_compute_dtype(root)
    w = _dequantized_weight(base, dtype)
    wide = Linear(channels, base.out_features, bias=base.bias is not None, device=w.device, dtype=dtype)
    with torch.no_grad():
        wide.weight.zero_()
        wide.weight[:, : base.in_features] = w
        if base.bias is not None:
            wide.bias.copy_(base.bias.to(dtype))
    wide.requires_grad_(False)
    applied = list(current.applied) if isinstance(current, LoRALinear) else []
    patch.set_module("img_in", LoRALinear(wide, applied) if applied else wide)
    root.in_channels = channels
    root.params = dataclasses.replace(root.params, in_channels=channels)


def _placed(updates, module: nn.Module):
    """The updates with their tensors in the module's compute dtype and on its device, cast once here
    instead of at every call (files are usually fp16/bf16; the base may be fp8)."""
    from ..loading.fp8 import module_compute_dtype

    dtype = module_compute_dtype(module)
    device = next(module.parameters()).device

    def place(t):
        return None if t is None else t.to(device=device, dtype=dtype)

    return [dataclasses.replace(u, up=place(u.up), down=place(u.down), dense=place(u.dense), bias=place(u.bias))
            for u in updates]


def apply_to_model(model: nn.Module, loras: list[tuple[LoRA, float]]) -> nn.Module:
    """A copy of the FLUX ``model`` with the LoRAs' transformer updates at the given strengths.

    A LoRA at strength 0 is left out entirely (its control-LoRA replacements too), so strength 0
    gives back the very same model object: exactly the base model, fused fast paths included.
    """
    active = [(lora, s) for lora, s in loras if (lora.updates[MODEL] or lora.replacements) and s != 0]
    if not active:
        return model
    patch = CopyOnWrite(model)
    for lora, _ in active:
        if lora.img_in_channels:
            _widen_img_in(patch, lora.img_in_channels)
    for lora, strength in active:
        for path, updates in lora.updates[MODEL].items():
            patch.add_updates(path, [(u, strength) for u in _placed(updates, model)])
        for path, tensor in lora.replacements.items():
            module_path, _, name = path.rpartition(".")
            target = patch.result.get_submodule(module_path)
            current = getattr(unwrap(target), name)
            value = tensor.to(device=current.device, dtype=current.dtype)
            if isinstance(target, LoRALinear):
                module_path += ".base"
            patch.set_parameter(f"{module_path}.{name}", value)
    return patch.result


def apply_to_text_encoders(conditioner, loras: list[tuple[LoRA, float]]):
    """A copy of a ``TextConditioner`` whose CLIP / T5 carry the LoRAs' text-encoder updates."""
    active = [(lora, s) for lora, s in loras if (lora.updates[CLIP] or lora.updates[T5]) and s != 0]
    if not active:
        return conditioner
    out = copy.copy(conditioner)
    for part, attr in ((CLIP, "clip"), (T5, "t5")):
        if not any(lora.updates[part] for lora, _ in active):
            continue
        encoder = getattr(conditioner, attr)
        patch = CopyOnWrite(encoder)
        for lora, strength in active:
            for path, updates in lora.updates[part].items():
                patch.add_updates(path, [(u, strength) for u in _placed(updates, encoder)])
        setattr(out, attr, patch.result)
    return out


def effective_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every linear layer's float32 weight with its run-time updates folded in (tests, merging, bench)."""
    out = {}
    wrapped = {name for name, m in model.named_modules() if isinstance(m, LoRALinear)}
    for name, m in model.named_modules():
        if name.rpartition(".")[0] in wrapped and name.endswith(".base"):
            continue
        if isinstance(m, LoRALinear):
            base = m.base
            w = _dequantized_weight(base, torch.float32)
            b = base.bias.float() if base.bias is not None else torch.zeros(base.out_features)
            for a in m.applied:
                w = w + a.update.weight_delta(_dequantized_weight(base, torch.float32)) * a.strength
                b = b + a.update.bias_delta(base.bias, base.out_features) * a.strength
            out[name] = (w, b)
        elif isinstance(m, nn.Linear) and ".applied." not in name:
            out[name] = (_dequantized_weight(m, torch.float32),
                         m.bias.float() if m.bias is not None else torch.zeros(m.out_features))
    return out
