"""LoRA files in every layout people download -> updates of our layers, plus a report of what matched.

Formats are recognised from the keys, never from the file name:

========================  ============================================================================
BFL / ComfyUI             ``diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight`` (or lora_up/
                          lora_down + ``.alpha``); no prefix in BFL's control LoRAs
kohya / sd-scripts        ``lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight``, ``.alpha``;
                          ``lora_te1_`` (CLIP-L), ``lora_te2_`` / ``lora_te3_`` (T5);
                          ``lora_transformer_`` for diffusers names
diffusers / PEFT          ``transformer.transformer_blocks.0.attn.to_q.lora_A.weight`` (split q/k/v,
                          fused here into BFL's ``qkv`` / ``linear1`` row slices), ``text_encoder.``
ai-toolkit / SimpleTuner  diffusers names with lora_A/B or lora_down/up and ``.alpha``
XLabs                     ``double_blocks.0.processor.qkv_lora1.down.weight`` (and proj_lora, _lora2)
LyCORIS LoHa / LoKr       ``.hada_w1_a`` … / ``.lokr_w1`` … factors (any naming above)
BFL control LoRA          lora_A/B for every layer, ``img_in`` wider than the model (extra input
                          channels for the control image) and full-weight norm ``.scale`` values
========================  ============================================================================

Scale: ``alpha / rank`` when the file has an ``.alpha`` for the layer, else 1 (as diffusers/PEFT and
ComfyUI do). Anything that matches no layer of the given model is kept by name in ``unmatched``.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .keys import CLIP, MODEL, T5, Target, TargetIndex
from .patch import Update


class LoRAError(ValueError):
    """A LoRA file that cannot be read or that matches nothing in the model; the message names the file."""


# key suffix -> role of the tensor. Longest first, so ".lora.down.weight" wins over ".down.weight".
_ROLES = [
    (".lora_A.default.weight", "down"), (".lora_B.default.weight", "up"),
    (".lora_A.weight", "down"), (".lora_B.weight", "up"), (".lora_B.bias", "bias"),
    (".lora_down.weight", "down"), (".lora_up.weight", "up"),
    (".lora.down.weight", "down"), (".lora.up.weight", "up"),
    (".down.weight", "down"), (".up.weight", "up"),
    (".alpha", "alpha"), (".dora_scale", "dora_scale"),
    (".hada_w1_a", "hada_w1_a"), (".hada_w1_b", "hada_w1_b"), (".hada_w2_a", "hada_w2_a"), (".hada_w2_b", "hada_w2_b"),
    (".hada_t1", "hada_t1"), (".hada_t2", "hada_t2"),
    (".lokr_w1", "lokr_w1"), (".lokr_w1_a", "lokr_w1_a"), (".lokr_w1_b", "lokr_w1_b"),
    (".lokr_w2", "lokr_w2"), (".lokr_w2_a", "lokr_w2_a"), (".lokr_w2_b", "lokr_w2_b"), (".lokr_t2", "lokr_t2"),
    (".diff_b", "diff_b"), (".diff", "diff"),
]
_ROLES.sort(key=lambda r: -len(r[0]))

# source-name prefix -> (model part, names flattened with "_")
_PREFIXES = [
    ("lora_unet_", MODEL, True), ("lora_transformer_", MODEL, True),
    ("lora_te1_", CLIP, True), ("lora_te_", CLIP, True), ("lora_te2_", T5, True), ("lora_te3_", T5, True),
    ("model.diffusion_model.", MODEL, False), ("diffusion_model.", MODEL, False),
    ("base_model.model.", MODEL, False), ("transformer.", MODEL, False), ("unet.", MODEL, False),
    ("text_encoders.clip_l.transformer.", CLIP, False), ("text_encoders.t5xxl.transformer.", T5, False),
    ("text_encoder_2.", T5, False), ("text_encoder.", CLIP, False),
    ("lora_", MODEL, True),  # some ai-toolkit exports: lora_transformer-less flattened names
]


@dataclass
class LoRA:
    """A LoRA file converted for one model: updates per part and layer, full replacements, and the report."""

    source: str
    format: str
    keys: int
    updates: dict[str, dict[str, list[Update]]] = field(default_factory=lambda: {MODEL: {}, CLIP: {}, T5: {}})
    replacements: dict[str, Tensor] = field(default_factory=dict)  # parameter path -> full value (control)
    img_in_channels: int | None = None  # a control LoRA's wider img_in
    unmatched: list[str] = field(default_factory=list)  # "key: reason"
    ranks: Counter = field(default_factory=Counter)
    alphas: Counter = field(default_factory=Counter)

    @property
    def is_control(self) -> bool:
        return self.img_in_channels is not None

    def layer_count(self, part: str) -> int:
        return len(self.updates[part])

    def groups(self, part: str) -> Counter:
        """Patched layers by kind, block numbers folded: ``double_blocks.*.img_attn.qkv`` -> count."""
        return Counter(re.sub(r"\.\d+\.", ".*.", path) for path in self.updates[part])

    def summary(self) -> str:
        """What was loaded, in a few lines: the node's output text and the log line."""
        name = Path(self.source).name
        ranks = ", ".join(str(r) for r, _ in self.ranks.most_common()) or "-"
        alphas = ", ".join(f"{a:g}" for a, _ in self.alphas.most_common()) or "none (scale 1)"
        lines = [f"LoRA {name}: {self.format}, {self.keys} keys, rank {ranks}, alpha {alphas}"]
        if self.is_control:
            lines.append(f"  control LoRA: img_in widened to {self.img_in_channels} input channels; "
                         f"{len(self.replacements)} full weights replaced (norms); it needs a control image")
        for part in (MODEL, CLIP, T5):
            if self.updates[part]:
                groups = ", ".join(f"{g} x{n}" if n > 1 else g for g, n in sorted(self.groups(part).items()))
                lines.append(f"  {part}: {self.layer_count(part)} layers patched ({groups})")
        if self.unmatched:
            lines.append(f"  {len(self.unmatched)} keys matched nothing and were NOT applied:")
            lines += [f"    {u}" for u in self.unmatched]
        else:
            lines.append("  every key was applied")
        return "\n".join(lines)


def _role(key: str) -> tuple[str, str] | None:
    for suffix, role in _ROLES:
        if key.endswith(suffix):
            return key[: -len(suffix)], role
    return None


def _split_prefix(name: str) -> tuple[str, str, bool]:
    for prefix, part, flattened in _PREFIXES:
        if name.startswith(prefix):
            return part, name[len(prefix):], flattened
    return MODEL, name, False


def detect_format(keys) -> str:
    """A human name for the layout of a LoRA's keys (for the summary; conversion does not depend on it)."""
    keys = list(keys)
    has = lambda s: any(s in k for k in keys)  # noqa: E731
    starts = lambda s: any(k.startswith(s) for k in keys)  # noqa: E731
    if has(".processor.") and (has("qkv_lora") or has("proj_lora")):
        naming = "XLabs"
    elif starts("lora_unet_") or starts("lora_te"):
        naming = "kohya/sd-scripts"
    elif starts("lora_transformer_"):
        naming = "kohya (diffusers names)"
    elif starts("transformer.") or starts("text_encoder") or starts("base_model.model."):
        naming = "diffusers/PEFT" if has(".lora_A.") else "ai-toolkit/SimpleTuner (diffusers names, lora_down/up)"
    elif starts("diffusion_model.") or starts("model.diffusion_model."):
        naming = "BFL/ComfyUI"
    elif has("img_in.lora_A") and has("norm.key_norm.scale"):
        naming = "BFL control LoRA"
    else:
        naming = "BFL names"
    if has(".hada_w1_a"):
        naming += ", LyCORIS LoHa"
    if has(".lokr_w"):
        naming += ", LyCORIS LoKr"
    return naming


def _low_rank_tensors(role: dict[str, Tensor]) -> tuple[Tensor | None, Tensor | None, Tensor | None, int | None]:
    """(up, down, dense, rank) of one source layer's factors; rank None for full-rank updates."""
    if "down" in role and "up" in role:
        down, up = role["down"], role["up"]
        if down.ndim != 2 or up.ndim != 2:
            down, up = down.flatten(1), up.flatten(1)  # 1x1-conv shaped factors
        return up, down, None, down.shape[0]
    if "hada_w1_a" in role:
        w1 = role["hada_w1_a"].float() @ role["hada_w1_b"].float()
        w2 = role["hada_w2_a"].float() @ role["hada_w2_b"].float()
        return None, None, w1 * w2, role["hada_w1_b"].shape[0]
    if "lokr_w1" in role or "lokr_w1_a" in role:
        rank = None
        if "lokr_w1" in role:
            w1 = role["lokr_w1"].float()
        else:
            w1, rank = role["lokr_w1_a"].float() @ role["lokr_w1_b"].float(), role["lokr_w1_b"].shape[0]
        if "lokr_w2" in role:
            w2 = role["lokr_w2"].float()
        else:
            w2, rank = role["lokr_w2_a"].float() @ role["lokr_w2_b"].float(), role["lokr_w2_b"].shape[0]
        return None, None, torch.kron(w1, w2), rank
    if "diff" in role:
        return None, None, role["diff"], None
    return None, None, None, None


def convert(state_dict: dict[str, Tensor], model=None, clip=None, t5=None, source: str = "<memory>") -> LoRA:
    """Turn a LoRA state dict into updates for ``model`` (FLUX) and the ``clip`` / ``t5`` text encoders.

    Pass the modules the LoRA will be applied to (shapes decide the q/k/v slices); a part that is
    None counts its keys as unmatched. Raises :class:`LoRAError` when nothing at all matches.
    """
    index = TargetIndex(model, clip, t5)
    lora = LoRA(source=source, format=detect_format(state_dict), keys=len(state_dict))
    grouped: dict[str, dict[str, Tensor]] = defaultdict(dict)
    source_keys: dict[str, list[str]] = defaultdict(list)
    leftovers: list[str] = []
    for key, tensor in state_dict.items():
        found = _role(key)
        if found is None:
            leftovers.append(key)
        else:
            grouped[found[0]][found[1]] = tensor
            source_keys[found[0]].append(key)
    for name, roles in grouped.items():
        _convert_layer(lora, index, name, roles, source_keys[name])
    for key in leftovers:
        _full_weight(lora, model, key, state_dict[key])
    if not any(lora.updates.values()) and not lora.replacements:
        first = ", ".join(list(state_dict)[:6]) or "(the file holds no tensors)"
        raise LoRAError(f"{source}: no key of this LoRA matches the model ({lora.format} layout?); "
                        f"first keys: {first}")
    return lora


def _convert_layer(lora: LoRA, index: TargetIndex, name: str, roles: dict[str, Tensor], keys: list[str]) -> None:
    part, inner, flattened = _split_prefix(name)
    target = index.find(part, inner, flattened)
    if target is None and part == MODEL and not flattened and inner.startswith("lora_"):
        target = index.find(part, inner[len("lora_"):], True)
    if target is None:
        known = part in index.layers
        why = "no such layer" if known else f"no {part} given to apply it to"
        lora.unmatched += [f"{k}: {why}" for k in keys]
        return
    if "dora_scale" in roles:
        lora.unmatched.append(f"{name}.dora_scale: DoRA magnitude vectors are not supported; "
                              "the low-rank part was applied without it")
    up, down, dense, rank = _low_rank_tensors(roles)
    bias = roles.get("bias", roles.get("diff_b"))
    if up is None and dense is None and bias is None:
        lora.unmatched += [f"{k}: incomplete factors for this layer" for k in keys]
        return
    alpha = roles.get("alpha")
    scale = 1.0
    if alpha is not None and rank:
        scale = float(alpha.float().item()) / rank
        lora.alphas[float(alpha.float().item())] += 1
    if rank:
        lora.ranks[rank] += 1
    layer = index.layer(target)
    problem = _fit(lora, target, layer, up, down, dense, bias)
    if problem:
        lora.unmatched += [f"{k}: {problem}" for k in keys]
        return
    up, down, dense, bias = _orient(target, layer, up, down, dense, bias, lora)
    update = Update(up=up, down=down, dense=dense, bias=bias, rows=target.rows, scale=scale,
                    on_output=target.on_output)
    lora.updates[part].setdefault(target.path, []).append(update)


def _fit(lora, target: Target, layer, up, down, dense, bias) -> str | None:
    """None when the factors fit the layer (a control LoRA's wider img_in is allowed), else why not."""
    rows = (target.rows[1] - target.rows[0]) if target.rows else layer.out_features
    cols = layer.out_features if target.on_output else layer.in_features
    if dense is not None:
        out_n, in_n = dense.shape
    elif up is not None:
        if up.shape[1] != down.shape[0]:
            return f"up has rank {up.shape[1]} but down has rank {down.shape[0]}"
        out_n, in_n = up.shape[0], down.shape[1]
    else:
        out_n, in_n = bias.shape[0], cols
    if out_n != rows:
        return f"{out_n} outputs, the layer {target.path} has {rows}"
    if in_n != cols:
        if target.path == "img_in" and in_n > cols and not target.on_output:
            lora.img_in_channels = in_n
            return None
        return f"{in_n} inputs, the layer {target.path} has {cols}"
    return None


def _orient(target: Target, layer, up, down, dense, bias, lora: LoRA):
    """Swap diffusers' (scale, shift) halves into BFL's (shift, scale) order for the final adaLN."""
    if not target.swap_halves:
        return up, down, dense, bias

    def swap(t):
        if t is None:
            return None
        half = t.shape[0] // 2
        return torch.cat([t[half:], t[:half]])

    return swap(up), down, swap(dense), swap(bias)


def _full_weight(lora: LoRA, model, key: str, tensor: Tensor) -> None:
    """A key that is a model parameter's own name: a full replacement (control LoRAs carry norm scales)."""
    name = key
    for prefix in ("model.diffusion_model.", "diffusion_model.", "transformer."):
        name = name.removeprefix(prefix)
    params = dict(model.named_parameters()) if model is not None else {}
    params = {k.replace(".base.", "."): v for k, v in params.items() if ".applied." not in k}
    if name not in params:
        lora.unmatched.append(f"{key}: not a LoRA factor and not a weight of the model")
        return
    if tuple(params[name].shape) != tuple(tensor.shape):
        lora.unmatched.append(f"{key}: shape {tuple(tensor.shape)}, the model's is {tuple(params[name].shape)}")
        return
    lora.replacements[name] = tensor


def read_state_dict(path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors of a LoRA file (small: read whole), or :class:`LoRAError` for unreadable files."""
    from ..loading.errors import ModelLoadError
    from ..loading.safetensors_io import open_file
    from ..loading.tensors import to_tensors

    try:
        lazy, metadata = open_file(path)
        return to_tensors(lazy), metadata
    except ModelLoadError as exc:
        raise LoRAError(f"cannot read LoRA file: {exc}") from None
    except OSError as exc:
        raise LoRAError(f"cannot read LoRA file {path}: {exc}") from None


def load_lora(path, model=None, clip=None, t5=None) -> LoRA:
    """Read and convert a LoRA file for the given modules (see :func:`convert`)."""
    state_dict, _ = read_state_dict(path)
    return convert(state_dict, model, clip, t5, source=str(path))
