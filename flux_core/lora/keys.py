"""Where a LoRA key points: which model part, which layer, which slice of the layer's outputs.

LoRA files name layers in one of several layouts (the formats themselves are recognised in
``formats``); this module only answers "which of *our* layers is this source layer name":

- BFL names (``double_blocks.0.img_attn.qkv``), as in BFL/ComfyUI files and XLabs files;
- diffusers names (``transformer_blocks.0.attn.to_q``), whose split q/k/v(/mlp) layers are row
  slices of BFL's fused ``qkv`` / ``linear1`` and whose ``norm_out.linear`` has its halves swapped;
- kohya's flattened names (``double_blocks_0_img_attn_qkv``), for either of the above;
- XLabs processor names (``double_blocks.0.processor.qkv_lora1``);
- text encoders: transformers' CLIP and T5 module names, with or without ``text_model.``.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..loading.keymaps import _transformer_rules, block_count

MODEL, CLIP, T5 = "transformer", "CLIP-L", "T5"


@dataclass(frozen=True)
class Target:
    """A layer of ours: its module path, the output rows a source layer covers, and whether halves swap."""

    part: str
    path: str
    rows: tuple[int, int] | None = None
    swap_halves: bool = False
    on_output: bool = False  # XLabs single blocks: out + B·A·out after linear2, not a weight delta


def _flat(name: str) -> str:
    return name.replace(".", "_")


def _linear_names(module: nn.Module) -> dict[str, nn.Module]:
    from .patch import LoRALinear

    out = {}
    for name, m in module.named_modules():
        if isinstance(m, LoRALinear):
            out[name] = m.base
        elif isinstance(m, nn.Linear) and not name.endswith(".base"):
            out[name] = m
    return out


_XLABS_DOUBLE = {"processor.qkv_lora1": "img_attn.qkv", "processor.qkv_lora2": "txt_attn.qkv",
                 "processor.proj_lora1": "img_attn.proj", "processor.proj_lora2": "txt_attn.proj"}


class TargetIndex:
    """Source layer name (dotted or flattened, any known layout) -> :class:`Target`, for one model."""

    def __init__(self, model: nn.Module | None, clip: nn.Module | None = None, t5: nn.Module | None = None):
        self.layers: dict[str, dict[str, nn.Module]] = {}
        self.dotted: dict[str, dict[str, Target]] = {MODEL: {}, CLIP: {}, T5: {}}
        if model is not None:
            self._index_transformer(model)
        if clip is not None:
            self._index_text(CLIP, clip, extra_prefixes=("text_model.",))
        if t5 is not None:
            self._index_text(T5, t5, extra_prefixes=())
        self.flat = {part: {_flat(k): v for k, v in names.items()} for part, names in self.dotted.items()}

    def _index_text(self, part: str, module: nn.Module, extra_prefixes: tuple[str, ...]) -> None:
        layers = _linear_names(module)
        self.layers[part] = layers
        for name in layers:
            for prefix in ("", *extra_prefixes):
                self.dotted[part][prefix + name] = Target(part, name)

    def _index_transformer(self, model: nn.Module) -> None:
        layers = _linear_names(model)
        self.layers[MODEL] = layers
        names = self.dotted[MODEL]
        for name in layers:
            names[name] = Target(MODEL, name)
        depth, depth_single = block_count(layers, "double_blocks"), block_count(layers, "single_blocks")
        for bfl, diffusers, kind in _transformer_rules(depth, depth_single):
            if kind == "norm" or bfl not in layers:
                continue
            if kind == "fused":
                hidden = layers[bfl].in_features
                sizes = [hidden] * 3 + [layers[bfl].out_features - 3 * hidden] * (len(diffusers) == 4)
                start = 0
                for part_name, size in zip(diffusers, sizes):
                    names[part_name] = Target(MODEL, bfl, rows=(start, start + size))
                    start += size
            else:
                names[diffusers] = Target(MODEL, bfl, swap_halves=kind == "swap")
        for i in range(depth):
            for source, ours in _XLABS_DOUBLE.items():
                names[f"double_blocks.{i}.{source}"] = Target(MODEL, f"double_blocks.{i}.{ours}")
        for i in range(depth_single):
            hidden = layers[f"single_blocks.{i}.linear1"].in_features
            names[f"single_blocks.{i}.processor.qkv_lora"] = Target(MODEL, f"single_blocks.{i}.linear1",
                                                                    rows=(0, 3 * hidden))
            names[f"single_blocks.{i}.processor.proj_lora"] = Target(MODEL, f"single_blocks.{i}.linear2",
                                                                     on_output=True)

    def find(self, part: str, name: str, flattened: bool) -> Target | None:
        table = self.flat if flattened else self.dotted
        return table.get(part, {}).get(name)

    def layer(self, target: Target) -> nn.Module:
        return self.layers[target.part][target.path]
