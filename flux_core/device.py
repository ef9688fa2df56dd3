"""The one place that decides which device and dtype fluxwire computes on.

Nodes, loaders and the executor ask here; none of them picks a device on its own.
The choice is cuda, then mps, then cpu, unless the user overrides it (``--device`` or
``FLUXWIRE_DEVICE``). torch is imported lazily so that the CLI starts fast.
"""
from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_override: str | None = None

VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


def set_device(name: str | None) -> None:
    """Override the automatic choice for this process (``None`` or "auto" restores it)."""
    global _override
    if name is not None and name.split(":")[0] not in VALID_DEVICES:
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(VALID_DEVICES)}")
    with _lock:
        _override = None if name in (None, "auto") else name


def device_name() -> str:
    """The chosen device as a string, e.g. "cpu" or "cuda:0"."""
    with _lock:
        chosen = _override or os.environ.get("FLUXWIRE_DEVICE") or "auto"
    if chosen != "auto":
        return chosen
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def get_device():
    """The chosen device as a ``torch.device``."""
    import torch

    return torch.device(device_name())


def compute_dtype(device=None):
    """The dtype models compute in on ``device``: bf16 where the hardware supports it, else fp32.

    CPU computes in fp32: bf16 matmuls on most CPUs are slower and less exact.
    """
    import torch

    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def parse_dtype(name: str | None):
    """Map a user-facing dtype name ("default", "fp32", "bf16", "fp16", "fp8_e4m3fn", "fp8_e5m2") to torch."""
    import torch

    table = {
        None: None,
        "default": None,
        "fp32": torch.float32,
        "float32": torch.float32,
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
        "fp8_e4m3fn": torch.float8_e4m3fn,
        "fp8_e5m2": torch.float8_e5m2,
    }
    if name not in table:
        raise ValueError(f"unknown dtype {name!r}; choose one of default, fp32, bf16, fp16, fp8_e4m3fn, fp8_e5m2")
    return table[name]
