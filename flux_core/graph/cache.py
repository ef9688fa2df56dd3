"""Node results kept between runs, keyed by signature, within a memory budget.

The least recently used results are evicted first; results a run still needs are pinned and never
evicted while pinned. Sizes are estimated from what the values hold (tensors, modules, arrays, images).
"""
from __future__ import annotations

import os
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


class SettingError(ValueError):
    """A setting (environment variable or option) with a value fluxwire cannot use; one sentence says why."""


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30,
          "gib": 2**30, "ti": 2**40, "tib": 2**40}
_SIZE = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]*)?(?:e[+-]?[0-9]{1,3})?)\s*([a-z]*)\s*$", re.IGNORECASE)
SIZE_EXAMPLES = "a number of bytes such as 8000000000, 1e9, 8GB or 512MiB (KB/MB/GB/TB are powers of 1000, " \
                "KiB/MiB/GiB/TiB powers of 1024; 0 or more)"


def parse_byte_size(text: str, setting: str) -> int:
    """Bytes from text like "8589934592", "1e9", "8GB", "512 MiB"; SettingError naming `setting` otherwise."""
    match = _SIZE.match(text) if isinstance(text, str) and len(text) < 100 else None
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or unit is None:
        raise SettingError(f"{setting} is {text!r}; expected {SIZE_EXAMPLES}")
    try:
        value = Fraction(match.group(1).replace("_", "")) * unit  # exact: "8589934593" stays that number
    except (ValueError, ZeroDivisionError):
        raise SettingError(f"{setting} is {text!r}; expected {SIZE_EXAMPLES}") from None
    if value > 2**62:
        raise SettingError(f"{setting} is {text!r}, which is too large; expected {SIZE_EXAMPLES}")
    if value.denominator != 1:
        raise SettingError(f"{setting} is {text!r}, which is not a whole number of bytes; expected {SIZE_EXAMPLES}")
    return int(value)


def default_budget() -> int:
    """Half of the machine's memory, unless FLUXWIRE_CACHE_BYTES says otherwise (SettingError if unusable)."""
    env = os.environ.get("FLUXWIRE_CACHE_BYTES")
    if env is not None and env.strip():
        return parse_byte_size(env, "FLUXWIRE_CACHE_BYTES")
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def estimate_bytes(value: Any, _seen: set | None = None) -> int:
    """Bytes held by a node output; shared storage inside one value is counted once."""
    seen = _seen if _seen is not None else set()
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, (int, float, bool, str, type(None))):
        return sys.getsizeof(value)
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    own = getattr(value, "cache_bytes", None)
    if callable(own):
        return int(own())
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(value, torch.Tensor):
            return _tensor_bytes(value, seen)
        if isinstance(value, torch.nn.Module):
            return sum(_tensor_bytes(t, seen) for t in list(value.parameters()) + list(value.buffers()))
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if hasattr(value, "size") and hasattr(value, "getbands"):  # a PIL image
        w, h = value.size
        return w * h * len(value.getbands())
    if isinstance(value, dict):
        return sum(estimate_bytes(k, seen) + estimate_bytes(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(estimate_bytes(v, seen) for v in value)
    if hasattr(value, "__dict__"):
        return estimate_bytes(vars(value), seen)
    return sys.getsizeof(value)


def _tensor_bytes(t, seen: set) -> int:
    if t.device.type == "meta":
        return 0
    try:
        key = ("storage", t.untyped_storage().data_ptr())
    except Exception:
        key = ("tensor", id(t))
    if key in seen:
        return 0
    seen.add(key)
    return t.numel() * t.element_size()


@dataclass
class CacheEntry:
    outputs: dict[str, Any]
    ui: dict[str, Any]
    nbytes: int
    pins: int = 0


class ResultCache:
    def __init__(self, budget_bytes: int | None = None):
        self.budget = default_budget() if budget_bytes is None else int(budget_bytes)
        if self.budget < 0:
            raise SettingError(f"the cache budget is {self.budget} bytes; it must be 0 or more")
        self._entries: "OrderedDict[str, CacheEntry]" = OrderedDict()
        self._lock = threading.RLock()
        self._total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, signature: str) -> bool:
        return signature in self._entries

    @property
    def total_bytes(self) -> int:
        return self._total

    def get(self, signature: str) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(signature)
            if entry is not None:
                self._entries.move_to_end(signature)
            return entry

    def put(self, signature: str, outputs: dict, ui: dict) -> CacheEntry:
        entry = CacheEntry(outputs=outputs, ui=ui, nbytes=estimate_bytes(outputs))
        with self._lock:
            old = self._entries.pop(signature, None)
            if old is not None:
                self._total -= old.nbytes
            self._entries[signature] = entry
            self._total += entry.nbytes
            self.evict()
        return entry

    def pin(self, signature: str) -> None:
        with self._lock:
            if signature in self._entries:
                self._entries[signature].pins += 1

    def unpin(self, signature: str) -> None:
        with self._lock:
            entry = self._entries.get(signature)
            if entry is not None and entry.pins > 0:
                entry.pins -= 1
        self.evict()

    def evict(self) -> list[str]:
        """Drop least recently used, unpinned entries until the total fits the budget."""
        dropped = []
        with self._lock:
            if self._total <= self.budget:
                return dropped
            for sig in list(self._entries):
                if self._total <= self.budget:
                    break
                entry = self._entries[sig]
                if entry.pins:
                    continue
                self._total -= entry.nbytes
                del self._entries[sig]
                dropped.append(sig)
        return dropped

    def clear(self) -> None:
        with self._lock:
            self._entries = OrderedDict((s, e) for s, e in self._entries.items() if e.pins)
            self._total = sum(e.nbytes for e in self._entries.values())
