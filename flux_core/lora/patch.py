"""Applying LoRA updates at run time, on a copy of the model that shares every base weight.

A patched model is a *shallow* copy: the modules on the path from the root to each patched layer are
copied (a few Python objects), every other module and every base ``Parameter`` is the same object as
in the base model. The patched layer itself is wrapped in :class:`LoRALinear`, which calls the base
layer unchanged and adds ``x·Aᵀ·Bᵀ·scale`` (or ``x·ΔWᵀ·scale`` for LoHa/LoKr) in the input's dtype.
So the cached base model is never written to: dropping the patched copy is the "un-merge", strength
changes build a new copy in microseconds, and fp8 / scaled-fp8 base layers keep their storage.

The update tensors are buffers of the wrapper, so ``.to(device)`` on a block moves them with it; a
memory manager that moves only the base block's weights still works, because the wrapper moves its
(small) tensors to the input's device when they differ.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Update:
    """One low-rank (``up @ down``) or dense (``dense``) weight update of one layer, and its bias update.

    ``rows`` = (start, stop) when it adds into a slice of the layer's outputs only (e.g. the q part
    of a fused qkv layer). ``scale`` already holds alpha/rank; the user's strength multiplies it.
    """

    up: Tensor | None = None  # [rows, rank]
    down: Tensor | None = None  # [rank, in]
    dense: Tensor | None = None  # [rows, in]
    bias: Tensor | None = None  # [rows]
    rows: tuple[int, int] | None = None
    scale: float = 1.0
    on_output: bool = False  # reads the layer's base output instead of its input (XLabs single blocks)

    @property
    def rank(self) -> int | None:
        return None if self.down is None else self.down.shape[0]

    def _matrix(self) -> Tensor | None:
        if self.dense is not None:
            return self.dense.float()
        if self.down is not None:
            return self.up.float() @ self.down.float()
        return None

    def weight_delta(self, base_weight: Tensor) -> Tensor:
        """The full [out, in] float32 weight change at strength 1 (for merging and for tests)."""
        out_features, in_features = base_weight.shape
        full = torch.zeros(out_features, in_features)
        m = self._matrix()
        if m is None:
            return full
        if self.on_output:
            return m @ base_weight.float() * self.scale
        lo, hi = self.rows or (0, out_features)
        full[lo:hi] = m * self.scale
        return full

    def bias_delta(self, base_bias: Tensor | None, out_features: int) -> Tensor:
        """The [out] float32 bias change at strength 1."""
        full = torch.zeros(out_features)
        if self.on_output:
            m = self._matrix()
            if m is not None and base_bias is not None:
                full += m @ base_bias.float() * self.scale
        elif self.bias is not None:
            lo, hi = self.rows or (0, out_features)
            full[lo:hi] = self.bias.float() * self.scale
        return full


class _Applied(nn.Module):
    """One update at one strength; tensors are buffers so they follow ``.to()`` of the block."""

    def __init__(self, update: Update, strength: float):
        super().__init__()
        for name in ("up", "down", "dense", "bias"):
            self.register_buffer(name, getattr(update, name), persistent=False)
        self.rows = update.rows
        self.on_output = update.on_output
        self.factor = float(update.scale) * float(strength)
        self.update = update
        self.strength = float(strength)

    def forward(self, x: Tensor) -> Tensor:
        def cast(t: Tensor) -> Tensor:
            return t.to(device=x.device, dtype=x.dtype)

        if self.dense is not None:
            out = F.linear(x, cast(self.dense))
        elif self.down is not None:
            out = F.linear(F.linear(x, cast(self.down)), cast(self.up))
        else:
            out = None
        if self.bias is not None:
            out = cast(self.bias) if out is None else out + cast(self.bias)
        return out * self.factor


class LoRALinear(nn.Module):
    """A linear layer plus LoRA updates added to its output at run time; the base layer is shared, unchanged."""

    def __init__(self, base: nn.Module, applied: list[_Applied]):
        super().__init__()
        self.base = base
        self.applied = nn.ModuleList(applied)
        self.fused = nn.ModuleList()
        self._run = self._plan()

    def _plan(self) -> list[_Applied]:
        """What forward computes: low-rank updates of the same output rows stacked into one pair of
        matmuls (ranks concatenated, strengths folded into ``up``), so four LoRAs cost two small
        matmuls, not eight. Not for trainable factors (training needs them separate)."""
        groups: dict = {}
        run = []
        for a in self.applied:
            if a.factor == 0.0:
                continue  # strength 0 adds nothing: leave it out
            plain = a.down is not None and a.dense is None and not a.on_output and not a.down.requires_grad
            (groups.setdefault(a.rows, []) if plain else run).append(a)
        for rows, members in groups.items():
            if len(members) == 1:
                run.append(members[0])
                continue
            dtype = members[0].up.dtype
            up = torch.cat([m.up.to(dtype) * m.factor for m in members], dim=1)
            down = torch.cat([m.down.to(dtype) for m in members], dim=0)
            biases = [m.bias.to(dtype) * m.factor for m in members if m.bias is not None]
            fused = _Applied(Update(up=up, down=down, bias=sum(biases) if biases else None, rows=rows), 1.0)
            self.fused.append(fused)
            run.append(fused)
        return run

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> Tensor:  # read-only view of the base weight, for code that inspects shapes
        return self.base.weight

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        base_out = y.clone() if any(a.on_output for a in self._run) else None
        for a in self._run:
            d = a(base_out if a.on_output else x)
            if a.rows is None:
                y = y + d
            elif torch.is_grad_enabled():
                lo, hi = a.rows
                y = torch.cat([y[..., :lo], y[..., lo:hi] + d, y[..., hi:]], dim=-1)
            else:
                y[..., a.rows[0]:a.rows[1]] += d
        return y

    def extra_repr(self) -> str:
        return f"{len(self.applied)} update(s)"


def _shallow(module: nn.Module) -> nn.Module:
    """A new module object with its own child/parameter/buffer tables but the same tensors."""
    clone = copy.copy(module)
    clone._modules = dict(module._modules)
    clone._parameters = dict(module._parameters)
    clone._buffers = dict(module._buffers)
    return clone


@dataclass
class CopyOnWrite:
    """Builds a patched shallow copy of ``root``: only the modules on changed paths are new objects."""

    root: nn.Module
    copies: dict[str, nn.Module] = field(default_factory=dict)

    def __post_init__(self):
        self.copies[""] = _shallow(self.root)

    @property
    def result(self) -> nn.Module:
        return self.copies[""]

    def module(self, path: str) -> nn.Module:
        """The (copied) module at ``path``; its ancestors are copied and re-linked on the way."""
        if path in self.copies:
            return self.copies[path]
        parent_path, _, child = path.rpartition(".")
        parent = self.module(parent_path)
        if child not in parent._modules:
            raise KeyError(path)
        clone = _shallow(parent._modules[child])
        parent._modules[child] = clone
        self.copies[path] = clone
        return clone

    def set_module(self, path: str, new: nn.Module) -> None:
        parent_path, _, child = path.rpartition(".")
        parent = self.module(parent_path)
        parent._modules[child] = new
        self.copies.pop(path, None)

    def get(self, path: str) -> nn.Module:
        return self.module(path) if path in self.copies else self.result.get_submodule(path)

    def add_updates(self, path: str, updates: list[tuple[Update, float]]) -> None:
        """Wrap the layer at ``path`` (or extend its wrapper) with updates at given strengths."""
        current = self.result.get_submodule(path)
        if isinstance(current, LoRALinear):
            base, applied = current.base, list(current.applied)
        else:
            base, applied = current, []
        applied += [_Applied(u, s) for u, s in updates]
        self.set_module(path, LoRALinear(base, applied))

    def set_parameter(self, path: str, tensor: Tensor) -> None:
        """Replace one parameter (e.g. a control LoRA's full norm weight) in the copy only."""
        module_path, _, name = path.rpartition(".")
        module = self.module(module_path)
        module._parameters[name] = nn.Parameter(tensor, requires_grad=False)


def unwrap(module: nn.Module) -> nn.Module:
    """The base layer of a (possibly) wrapped layer."""
    return module.base if isinstance(module, LoRALinear) else module
