"""Memory budgets as users give them ("12GB", "auto", "low", 8589934592) and the activation reserve.

A budget is a number of bytes the manager may fill with model weights on a device (or in RAM). ``auto``
is what the device has free minus a reserve for the activations of the run at hand, estimated from the
latent size, batch and text tokens (FLUX's attention and MLP temporaries dominate). Presets follow the
spirit of ComfyUI's --highvram / --normalvram / --lowvram / --novram switches.
"""
from __future__ import annotations

import os
import re

GB = 1 << 30
MB = 1 << 20

# preset -> fraction of the device's free memory given to weights (after the activation reserve)
PRESETS = {"high": 1.0, "normal": 0.9, "low": 0.5, "no-vram": 0.0, "novram": 0.0}
VRAM_ENV = "FLUXWIRE_VRAM_BUDGET"
RAM_ENV = "FLUXWIRE_RAM_BUDGET"

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": MB, "mb": MB, "mib": MB,
          "g": GB, "gb": GB, "gib": GB, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}


class BudgetError(ValueError):
    """A budget string that is not a size, a preset or ``auto``."""


def parse_budget(value) -> int | str | None:
    """``None``/"" -> None (unlimited); "auto" or a preset -> that name; a size ("12GB", "1.5G", 1024) -> bytes."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BudgetError(f"memory budget must be a size, 'auto' or a preset, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise BudgetError(f"memory budget must not be negative, got {value}")
        return int(value)
    text = str(value).strip().lower()
    if text in ("", "none", "unlimited"):
        return None
    if text == "auto" or text in PRESETS:
        return text
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([a-z]*)", text)
    if not match or match.group(2) not in _UNITS:
        raise BudgetError(f"memory budget {value!r} is not a size (e.g. 12GB, 800MB, 1073741824), 'auto' or one of "
                          f"{', '.join(sorted(PRESETS))}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def from_env(name: str):
    return parse_budget(os.environ.get(name) or None)


def activation_reserve(width: int = 1024, height: int = 1024, batch: int = 1, txt_tokens: int = 512,
                       hidden: int = 3072, mlp_ratio: float = 4.0, dtype_bytes: int = 2, extra_tokens: int = 0) -> int:
    """Bytes to keep free for one FLUX transformer step's temporaries at this size.

    Tokens = text + (H/16)(W/16) image patches + ``extra_tokens`` (Kontext's reference-image tokens, which
    ride along in every block; Redux's image tokens are already text tokens, appended to the prompt). A single-stream block holds its input, the fused
    linear1 output (3+4 hidden wide), attention output and linear2 output; attention itself runs in
    memory-efficient kernels. Plus 512 MB for the CUDA context, allocator slack and the VAE's own use.
    """
    tokens = txt_tokens + (height // 16) * (width // 16) + extra_tokens
    per_token = hidden * (1 + 3 + mlp_ratio + 1 + 1 + mlp_ratio) * dtype_bytes
    return int(batch * tokens * per_token) + 512 * MB


def resolve(budget, free_bytes: int | None, reserve: int) -> int | None:
    """A parsed budget -> bytes (None: unlimited). ``auto``/presets need the device's free bytes."""
    if budget is None or isinstance(budget, int):
        return budget
    if free_bytes is None:
        return None  # a device that cannot tell (the CPU): no limit unless a size is given
    fraction = PRESETS.get(budget, 1.0)
    return max(int((free_bytes - reserve) * fraction), 0)


def describe(nbytes: int | None) -> str:
    if nbytes is None:
        return "unlimited"
    if nbytes >= GB:
        return f"{nbytes / GB:.2f} GB"
    return f"{nbytes / MB:.1f} MB"
