"""fp8 weight storage: weights stay fp8 in memory and are cast per layer, per call, to the input's dtype.

Every e4m3fn / e5m2 value converts exactly to bf16, fp16 and fp32, so computing with
``weight.to(x.dtype)`` (times the per-layer ``scale_weight`` of ComfyUI "scaled fp8" files) is the
same function as upcasting the whole model at load time, at half (or a quarter) of the memory.
Loaders swap :class:`CastLinear` in for the ``nn.Linear`` modules whose weights are stored in fp8,
after building the model; the model code itself knows nothing about fp8.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def is_fp8(dtype) -> bool:
    return dtype in FP8_DTYPES


class CastLinear(nn.Linear):
    """A Linear whose stored weight (e.g. fp8) is cast to the input's dtype at each call, times an optional scale."""

    def __init__(self, in_features: int, out_features: int, bias: bool, scale_shape: tuple[int, ...] | None):
        super().__init__(in_features, out_features, bias=bias, device="meta")
        if scale_shape is None:
            self.scale_weight = None
        else:
            self.register_buffer("scale_weight", torch.empty(scale_shape, device="meta"))

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.to(x.dtype)
        if self.scale_weight is not None:
            w = w * self.scale_weight.to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, w, b)

    def extra_repr(self) -> str:
        scaled = ", scaled" if self.scale_weight is not None else ""
        return super().extra_repr() + f", storage={self.weight.dtype}{scaled}"


def swap_linears(module: nn.Module, layers: dict[str, tuple[int, ...] | None]) -> None:
    """Replace the named ``nn.Linear`` sub-modules by (meta) :class:`CastLinear`; value = scale shape or None."""
    for name, scale_shape in layers.items():
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        old = getattr(parent, child)
        new = CastLinear(old.in_features, old.out_features, old.bias is not None, scale_shape)
        setattr(parent, child, new)


def module_compute_dtype(module: nn.Module) -> torch.dtype:
    """The dtype a loaded model computes in: its first floating, non-fp8 parameter's dtype.

    ``next(model.parameters()).dtype`` can be an fp8 storage dtype; inputs must be given in this one.
    """
    for p in module.parameters():
        if p.is_floating_point() and not is_fp8(p.dtype):
            return p.dtype
    return torch.float32
