"""When fp8 weights are expanded to the compute dtype: once per borrow, or per layer inside each call.

Expanding once is faster (no cast per step) but doubles (bf16) the weights' device bytes; per layer keeps
them compact. The manager asks :func:`choose_fp8_expansion` with the room it has, and applies the answer
through :func:`apply_fp8_expansion`, the one place that knows the layer-level switch. ``CastLinear`` in
``models/layers.py`` is gaining that switch (``once`` / ``per_layer``) in a parallel change; until it
lands, layers without it keep today's behaviour (per layer), so this is a no-op.
"""
from __future__ import annotations

from torch import nn

PER_LAYER, ONCE = "per_layer", "once"


def choose_fp8_expansion(compact_bytes: int, expanded_bytes: int, room: int | None) -> str:
    """``once`` when the expanded weights fit the room (or there is no limit), else ``per_layer``."""
    return ONCE if room is None or expanded_bytes <= room else PER_LAYER


def apply_fp8_expansion(model: nn.Module, mode: str) -> int:
    """Set ``mode`` on every fp8 layer that has the switch; returns how many layers took it."""
    changed = 0
    for layer in model.modules():
        setter = getattr(layer, "set_weight_expansion", None)
        if callable(setter):
            setter(mode)
            changed += 1
    return changed
