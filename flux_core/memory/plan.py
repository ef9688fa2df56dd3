"""Choosing how a model sits on a device with a byte budget: a pure function of sizes, testable anywhere.

A model is a *stem* (what every forward needs: embeddings, norms, the final layer) and an ordered list
of *blocks* (FLUX's 19 double + 38 single blocks, T5's 24 blocks, CLIP's layers). Policies, in order of
preference:

- ``resident``: the whole model stays on the device.
- ``partial``: the stem and the first k blocks stay; the others are copied in one at a time for their
  forward (the next one's copy overlapping the current one's compute) and dropped after it.
- ``streaming``: only the stem stays; every block is streamed (k = 0). With room for only one block
  buffer, the copy is not overlapped (``prefetch`` False).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn


class MemoryBudgetError(RuntimeError):
    """Not even the stem and one block fit the device budget."""


@dataclass
class Plan:
    policy: str  # resident | partial | streaming
    resident_blocks: int  # blocks kept on the device (the first ones)
    blocks: int
    resident_bytes: int  # stem + resident blocks
    streamed_bytes: int  # copied to the device per forward (per sampling step for the transformer)
    peak_bytes: int  # resident + the streaming buffers
    prefetch: bool
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        from .budget import describe

        if self.policy == "resident":
            return f"fully resident ({describe(self.resident_bytes)})"
        overlap = "next block's copy overlapped" if self.prefetch else "no overlap"
        return (f"{self.policy}: {self.resident_blocks}/{self.blocks} blocks resident "
                f"({describe(self.resident_bytes)}), {describe(self.streamed_bytes)} streamed per forward, "
                f"{overlap}, peak {describe(self.peak_bytes)}")


def choose_plan(stem_bytes: int, block_bytes: list[int], budget: int | None, what: str = "model") -> Plan:
    """The cheapest policy whose peak fits ``budget`` bytes (None: unlimited)."""
    total = stem_bytes + sum(block_bytes)
    n = len(block_bytes)
    if budget is None or total <= budget:
        return Plan("resident", n, n, total, 0, total, False)
    if not block_bytes or stem_bytes + max(block_bytes) > budget:
        from .budget import describe

        need = stem_bytes + (max(block_bytes) if block_bytes else sum(block_bytes))
        raise MemoryBudgetError(
            f"the {what} needs at least {describe(need)} on the device (its fixed part and one block), "
            f"but the budget is {describe(budget)}; raise --vram-budget or use a smaller (fp8/GGUF) file")
    prefetch = stem_bytes + 2 * max(block_bytes) <= budget
    buffers = 2 if prefetch else 1
    k = 0
    while k < n:
        rest = block_bytes[k + 1:]
        buffer = buffers * max(rest) if rest else 0
        if stem_bytes + sum(block_bytes[:k + 1]) + buffer > budget:
            break
        k += 1
    streamed = block_bytes[k:]
    resident = stem_bytes + sum(block_bytes[:k])
    peak = resident + (buffers * max(streamed) if streamed else 0)
    return Plan("partial" if k else "streaming", k, n, resident, sum(streamed), peak, prefetch)


def block_lists(module: nn.Module) -> list[tuple[str, nn.ModuleList]]:
    """The model's lists of repeated blocks, in forward order: each a ModuleList holding at
    least 10% of the model's bytes, not nested in another chosen list."""
    total = _bytes(module) or 1
    chosen: list[tuple[str, nn.ModuleList]] = []
    for name, child in module.named_modules():
        if not isinstance(child, nn.ModuleList) or len(child) == 0:
            continue
        if any(name.startswith(parent + ".") for parent, _ in chosen):
            continue
        if _bytes(child) >= 0.1 * total:
            chosen.append((name, child))
    return chosen


def _bytes(module: nn.Module) -> int:
    seen, n = set(), 0
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            n += t.numel() * t.element_size()
    return n


def module_plan(module: nn.Module, budget: int | None, what: str = "model") -> Plan:
    """Plan for a module (also one built on the meta device: only shapes and dtypes are read)."""
    blocks = [b for _, lst in block_lists(module) for b in lst]
    block_bytes = [_bytes(b) for b in blocks]
    return choose_plan(_bytes(module) - sum(block_bytes), block_bytes, budget, what)
