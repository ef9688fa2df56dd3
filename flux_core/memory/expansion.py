"""When fp8 weights are expanded to the compute dtype: once per borrow, or per layer inside each call.

Expanding once is faster (no cast per step) but doubles (bf16) the weights' device bytes; per layer keeps
them compact. The manager asks :func:`choose_fp8_expansion` with the room it has, and applies the answer
through :func:`apply_fp8_expansion`, the one place that knows the layer-level switch
(``flux_core.loading.fp8.set_weight_expansion`` on ``CastLinear``).
"""
from __future__ import annotations

from torch import nn

PER_LAYER, ONCE = "per_layer", "once"


def choose_fp8_expansion(compact_bytes: int, expanded_bytes: int, room: int | None) -> str:
    """``once`` when the expanded weights fit the room (or there is no limit), else ``per_layer``."""
    return ONCE if room is None or expanded_bytes <= room else PER_LAYER


def fp8_layers(model: nn.Module) -> list[nn.Module]:
    """The layers whose fp8 weights are expanded to the compute dtype."""
    from ..loading.fp8 import CastLinear

    return [m for m in model.modules() if isinstance(m, CastLinear)]


def apply_fp8_expansion(model: nn.Module, mode: str) -> int:
    """Set ``mode`` on every fp8 layer (each expands at its first call on the device); returns how many."""
    from ..loading.fp8 import set_weight_expansion

    set_weight_expansion(model, mode, now=False)
    return len(fp8_layers(model))
