"""Tensors described by shape and dtype that are read only when needed.

Key conversion (diffusers -> BFL names, fused qkv, prefixes) and checks (missing, extra, mis-shaped keys,
config inference) work on these descriptions, so a wrong file is rejected before any weight is read, and
each weight is read once, straight from the memory-mapped file, when the module receives it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


@dataclass(frozen=True)
class QuantizedSource:
    """The raw blocks of a GGUF-quantized tensor: ``qtype`` (e.g. "Q4_K") and how to read its bytes (uint8)."""

    qtype: str
    raw: Callable[[], Tensor]


@dataclass(frozen=True)
class LazyTensor:
    """A tensor's shape and dtype, plus how to produce it; ``origin`` names where it comes from.

    ``quantized`` is set for block-quantized GGUF tensors: ``load`` then dequantizes (float32), and a
    builder may keep the raw blocks instead. Conversions below produce plain tensors.
    """

    shape: tuple[int, ...]
    dtype: torch.dtype
    load: Callable[[], Tensor]
    origin: str
    quantized: QuantizedSource | None = None

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def from_tensor(t: Tensor, origin: str = "<memory>") -> LazyTensor:
    """Wrap an in-memory tensor (used by tests and by the key-map round trips)."""
    return LazyTensor(tuple(t.shape), t.dtype, lambda: t, origin)


def from_tensors(state_dict: dict[str, Tensor]) -> dict[str, LazyTensor]:
    return {k: from_tensor(v, k) for k, v in state_dict.items()}


def to_tensors(lazy: dict[str, LazyTensor]) -> dict[str, Tensor]:
    """Read every tensor (tests and small files only: this holds them all at once)."""
    return {k: v.load() for k, v in lazy.items()}


def concat(parts: list[LazyTensor], dim: int = 0) -> LazyTensor:
    """Concatenation along ``dim`` (copies when read; used for fused qkv / linear1)."""
    first = parts[0]
    for p in parts[1:]:
        if len(p.shape) != len(first.shape) or any(
            a != b for i, (a, b) in enumerate(zip(p.shape, first.shape)) if i != dim
        ):
            raise ValueError(f"cannot concatenate {p.origin} {p.shape} with {first.origin} {first.shape}")
    shape = list(first.shape)
    shape[dim] = sum(p.shape[dim] for p in parts)
    dtype = first.dtype
    return LazyTensor(
        tuple(shape),
        dtype,
        lambda: torch.cat([p.load().to(dtype) for p in parts], dim=dim),
        " + ".join(p.origin for p in parts),
    )


def split(t: LazyTensor, sizes: list[int], index: int, dim: int = 0) -> LazyTensor:
    """Part ``index`` of ``t`` split into ``sizes`` along ``dim`` (a view when read)."""
    if sum(sizes) != t.shape[dim]:
        raise ValueError(f"{t.origin}: cannot split size {t.shape[dim]} of dim {dim} into {sizes}")
    start = sum(sizes[:index])
    shape = list(t.shape)
    shape[dim] = sizes[index]
    return LazyTensor(
        tuple(shape), t.dtype, lambda: t.load().narrow(dim, start, sizes[index]), f"{t.origin}[part {index}]"
    )


def swap_halves(t: LazyTensor) -> LazyTensor:
    """Exchange the two halves along dim 0 ([a; b] -> [b; a]); its own inverse."""
    if t.shape[0] % 2:
        raise ValueError(f"{t.origin}: odd first dimension {t.shape[0]} has no halves")

    def load() -> Tensor:
        a, b = t.load().chunk(2, dim=0)
        return torch.cat([b, a], dim=0)

    return LazyTensor(t.shape, t.dtype, load, f"{t.origin}[halves swapped]")


def reshape(t: LazyTensor, shape: tuple[int, ...]) -> LazyTensor:
    """Same data, new shape (e.g. 1x1 conv weight <-> linear weight)."""
    shape = tuple(shape)
    n = 1
    for s in shape:
        n *= s
    if n != t.numel():
        raise ValueError(f"{t.origin}: cannot reshape {t.shape} to {shape}")
    return LazyTensor(shape, t.dtype, lambda: t.load().reshape(shape), t.origin)
