"""fp8 weight storage: weights stay fp8 in the model and are expanded to the input's dtype for compute.

Every e4m3fn / e5m2 value converts exactly to bf16, fp16 and fp32, so computing with
``weight.to(x.dtype)`` (times the per-layer ``scale_weight`` of ComfyUI "scaled fp8" files) is the
same function as upcasting the whole model at load time, at half (or a quarter) of the memory.
Loaders swap :class:`CastLinear` in for the ``nn.Linear`` modules whose weights are stored in fp8,
after building the model; the model code itself knows nothing about fp8.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def is_fp8(dtype) -> bool:
    return dtype in FP8_DTYPES


WEIGHT_EXPANSION_MODES = ("once", "per_layer")


class CastLinear(nn.Linear):
    """A Linear whose stored weight (e.g. fp8) is expanded to the input's dtype, times an optional scale.

    ``expansion`` says when: "per_layer" expands at each call and drops the result (least memory:
    one layer's expanded weight at a time); "once" keeps the expanded weight in the non-persistent
    buffer ``expanded_weight`` and reuses it while the input dtype, device and stored weight are
    unchanged (fastest; costs the expanded copy on top of the fp8 storage). Switch with
    :func:`set_weight_expansion`.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool, scale_shape: tuple[int, ...] | None):
        super().__init__(in_features, out_features, bias=bias, device="meta")
        if scale_shape is None:
            self.scale_weight = None
        else:
            self.register_buffer("scale_weight", torch.empty(scale_shape, device="meta"))
        self.expansion = "per_layer"
        self.register_buffer("expanded_weight", None, persistent=False)
        self._expanded_from: tuple | None = None  # (weight version, scale version) the buffer was made from

    def expand_weight(self, dtype: torch.dtype) -> Tensor:
        """The stored weight in ``dtype``, scale applied (the same numbers as upcasting the file by hand)."""
        w = self.weight.to(dtype)
        if self.scale_weight is not None:
            w = w * self.scale_weight.to(dtype)
        return w

    def _source_version(self) -> tuple:
        return (self.weight._version, None if self.scale_weight is None else self.scale_weight._version)

    def compute_weight(self, dtype: torch.dtype) -> Tensor:
        """The weight to multiply with: the kept expansion when valid, else a fresh one (kept in "once" mode)."""
        kept = self.expanded_weight
        if (kept is not None and kept.dtype == dtype and kept.device == self.weight.device
                and self._expanded_from == self._source_version()):
            return kept
        w = self.expand_weight(dtype)
        if self.expansion == "once":
            self.expanded_weight, self._expanded_from = w, self._source_version()
        return w

    def forward(self, x: Tensor) -> Tensor:
        from ..models.layers import linear

        return linear(x, self.compute_weight(x.dtype), self.bias)

    def extra_repr(self) -> str:
        scaled = ", scaled" if self.scale_weight is not None else ""
        return super().extra_repr() + f", storage={self.weight.dtype}{scaled}, expansion={self.expansion}"


def set_weight_expansion(model: nn.Module, mode: str, dtype: torch.dtype | None = None, now: bool = True) -> int:
    """Choose how the model's fp8 layers expand their weights: "once" or "per_layer" (see :class:`CastLinear`).

    "once" with ``now`` expands every layer at once, in ``dtype`` (default: the model's compute
    dtype), so the memory is taken here rather than during the first step; without ``now`` each layer
    expands at its first call. "per_layer" frees the kept expansions.
    Meant for whoever manages memory: it can switch a loaded model either way at any time. Returns
    the bytes the kept expansions take after the switch.
    """
    if mode not in WEIGHT_EXPANSION_MODES:
        raise ValueError(f"weight expansion must be one of {WEIGHT_EXPANSION_MODES}, got {mode!r}")
    dtype = dtype or module_compute_dtype(model)
    kept = 0
    with torch.no_grad():
        for layer in model.modules():
            if not isinstance(layer, CastLinear):
                continue
            layer.expansion = mode
            if mode == "per_layer":
                layer.expanded_weight, layer._expanded_from = None, None
            elif now:
                w = layer.compute_weight(dtype)
                kept += w.numel() * w.element_size()
    return kept


def expansion_bytes(model: nn.Module, dtype: torch.dtype | None = None) -> int:
    """Bytes that "once" expansion of every fp8 layer would keep (for choosing the mode by budget)."""
    itemsize = torch.empty(0, dtype=dtype or module_compute_dtype(model)).element_size()
    return sum(m.weight.numel() * itemsize for m in model.modules() if isinstance(m, CastLinear))


def weight_expansion(model: nn.Module) -> str | None:
    """The model's fp8 expansion mode, "mixed" if its layers differ, None without fp8 layers."""
    modes = {m.expansion for m in model.modules() if isinstance(m, CastLinear)}
    return None if not modes else modes.pop() if len(modes) == 1 else "mixed"


def available_memory() -> int | None:
    """Bytes the OS could give this process now (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


EXPAND_ONCE_HEADROOM = 2.0  # expand once only if twice the expansion still fits: activations and other models need room


def default_weight_expansion(model: nn.Module, device: torch.device) -> str | None:
    """The mode a freshly loaded model gets: "once" on CPU when the expanded copy fits the machine with
    room to spare (as ComfyUI does on CPU), else "per_layer". Accelerators keep "per_layer": their
    memory is the scarce one and expanding a layer there is cheap. None when the model has no fp8 layers.
    """
    need = expansion_bytes(model)
    if not need:
        return None
    free = available_memory()
    if torch.device(device).type == "cpu" and free is not None and need * EXPAND_ONCE_HEADROOM <= free:
        return "once"
    return "per_layer"


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
