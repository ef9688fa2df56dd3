"""Linear layers whose weight stays GGUF-quantized in memory and is expanded per call, on its device.

A FLUX.1 dev transformer in Q4_K is about 6.8 GB instead of 23.8 GB in bf16; keeping the blocks as
they are (uint8) and decoding one layer's weight at a time into the input's dtype costs one layer's
worth of temporary memory. Loaders swap :class:`QuantLinear` in for ``nn.Linear`` modules whose
weights come quantized from a .gguf file; the model code itself knows nothing about GGUF.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .gguf_quants import dequantize, packed_shape


class QuantLinear(nn.Linear):
    """``y = x @ dequantize(weight).T + bias``; ``weight`` holds the raw ``qtype`` blocks (uint8)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, qtype: str):
        super().__init__(in_features, out_features, bias=bias, device="meta")
        self.qtype = qtype
        packed = packed_shape(qtype, (out_features, in_features))
        self.weight = nn.Parameter(torch.empty(packed, dtype=torch.uint8, device="meta"), requires_grad=False)

    def expanded_weight(self, dtype: torch.dtype) -> Tensor:
        """The weight as a ``dtype`` matrix [out, in], decoded where it lives."""
        return dequantize(self.weight, self.qtype, (self.out_features, self.in_features), dtype)

    def forward(self, x: Tensor) -> Tensor:
        b = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.expanded_weight(x.dtype), b)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}, storage={self.qtype}"


def swap_quantized(module: nn.Module, layers: dict[str, str]) -> None:
    """Replace the named ``nn.Linear`` sub-modules by (meta) :class:`QuantLinear`; value = the GGUF type."""
    for name, qtype in layers.items():
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        old = getattr(parent, child)
        setattr(parent, child, QuantLinear(old.in_features, old.out_features, old.bias is not None, qtype))
