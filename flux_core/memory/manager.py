"""The memory manager: the one place that moves model weights between their CPU home and the device.

Loaders build models on the CPU (memory-mapped where possible). A node that computes borrows the
models it needs (``with manager.borrow(model): ...``); the manager then decides what is on the device:

- each weight has a *home* tensor on the CPU; being on the device means the module's parameter points
  at a device copy, being evicted means it points back at the home (weights never change in inference,
  so nothing is copied back);
- a borrowed model gets a :class:`~.plan.Plan` for the budget left by the other models in use; models
  not in use are evicted whole, least recently used first, when room is needed;
- blocks a partial or streaming plan does not keep are copied in by a forward pre-hook and dropped by
  a forward hook, the next streamed block's copy started early (on a side CUDA stream);
- a RAM budget works one level down: models not in use are *released* (their weights dropped, the
  file's pages unmapped) when loading another would exceed it, and reloaded from their file on borrow.

Every decision is logged (logger ``fluxwire.memory``) and kept in ``events``; the accounting of device
bytes (resident set, transfers, peak) is the manager's own, so on a :class:`SimulatedDevice` tests can
assert the peak never exceeded the budget.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import budget as budgets
from .devices import Device, SimulatedDevice
from .plan import Plan, block_lists, choose_plan

log = logging.getLogger("fluxwire.memory")


@dataclass
class _Slot:
    """One parameter or buffer: where it hangs in the module and its home (CPU) tensor."""

    owner: nn.Module
    name: str
    is_param: bool
    home: torch.Tensor
    nbytes: int

    @property
    def key(self):
        """What identifies the tensor across models sharing it (a LoRA-patched copy shares its base's
        Parameter objects; ``point_at`` keeps a Parameter's identity, it only swaps its data)."""
        return id(self.owner._parameters[self.name]) if self.is_param else (id(self.owner), self.name)

    def point_at(self, t: torch.Tensor) -> None:
        if self.is_param:
            self.owner._parameters[self.name].data = t
        else:
            self.owner._buffers[self.name] = t


@dataclass
class _Unit:
    name: str
    module: nn.Module | None
    slots: list[_Slot]
    nbytes: int
    on_device: bool = False
    pending: object = None  # CUDA event of an in-flight prefetch
    fp8: list = field(default_factory=list)  # the unit's CastLinear layers ("once" expansion lives with them)
    expand_bytes: int = 0  # what their "once" expansion adds, in the model's compute dtype
    charged: int = 0  # device bytes counted for the unit while on the device (weights + kept expansion)
    dtype: torch.dtype = torch.float32  # the model's compute dtype, that of the expansion
    pinned: bool = False  # the home tensors are page-locked (streamed units on CUDA)


@dataclass
class _Entry:
    ref: weakref.ref  # the manager never keeps a model alive: dropped by the cache, it is forgotten
    key: int
    name: str
    units: list[_Unit]  # units[0] is the stem, then the blocks in forward order
    reload: Callable[[], nn.Module] | None = None
    in_use: int = 0
    last_used: int = 0
    plan: Plan | None = None
    hooks: list = field(default_factory=list)  # streaming hooks of the current plan
    guards: list = field(default_factory=list)  # simulated device: "borrowed?" checks
    released: bool = False
    compute_dtype: torch.dtype = torch.float32
    bases: list = field(default_factory=list)  # entries whose tensors this model shares (a LoRA-patched copy)

    @property
    def expansion(self) -> str | None:
        """The fp8 layers' mode ("once" / "per_layer"), None for a model without fp8 layers."""
        layer = next((layer for u in self.units for layer in u.fp8), None)
        return None if layer is None else layer.expansion

    def expanded_bytes(self) -> int:
        """Bytes the fp8 layers' kept expansions take now (wherever they are)."""
        return sum(layer.expanded_weight.numel() * layer.expanded_weight.element_size()
                   for u in self.units for layer in u.fp8 if layer.expanded_weight is not None)

    @property
    def module(self) -> nn.Module | None:
        return self.ref()

    @property
    def nbytes(self) -> int:
        return sum(u.nbytes for u in self.units)

    def device_bytes(self) -> int:
        return sum(u.charged for u in self.units if u.on_device)


def _slots_by_unit(module: nn.Module) -> list[tuple[str, nn.Module | None, list[_Slot]]]:
    lists = block_lists(module)
    prefixes = [(f"{name}.{i}.", f"{name}.{i}", block) for name, lst in lists for i, block in enumerate(lst)]
    units: list[tuple[str, nn.Module | None, list[_Slot]]] = [("stem", None, [])]
    units += [(label, block, []) for _, label, block in prefixes]
    seen: set[int] = set()
    for mod_name, mod in module.named_modules():
        for kind, table in (("param", mod._parameters), ("buffer", mod._buffers)):
            for name, t in table.items():
                if t is None or id(t) in seen or name == "expanded_weight":  # derived: see memory.expansion
                    continue
                seen.add(id(t))
                full = f"{mod_name}.{name}" if mod_name else name
                index = next((i + 1 for i, (p, _, _) in enumerate(prefixes) if full.startswith(p)), 0)
                data = t.data if kind == "param" else t
                units[index][2].append(_Slot(mod, name, kind == "param", data, data.numel() * data.element_size()))
    return units


def fp8_layers_of(unit: _Unit) -> list[nn.Module]:
    """The fp8 layers (CastLinear) whose weight belongs to ``unit``."""
    from ..loading.fp8 import CastLinear

    return [slot.owner for slot in unit.slots if slot.name == "weight" and isinstance(slot.owner, CastLinear)]


class MemoryManager:
    """Device and RAM budgets for the models of one executor (see the module docstring)."""

    def __init__(self, device: Device | str | None = None, vram_budget=None, ram_budget=None):
        if device is None or isinstance(device, str):
            from ..device import get_device

            device = Device(device or get_device())
        self.device = device
        self.vram_setting = budgets.parse_budget(vram_budget if vram_budget is not None
                                                 else budgets.from_env(budgets.VRAM_ENV))
        if isinstance(device, SimulatedDevice) and self.vram_setting is None:
            self.vram_setting = device.capacity
        elif self.vram_setting is None:
            self.vram_setting = "auto"  # a device that reports its free memory is never overfilled
        self.ram_setting = budgets.parse_budget(ram_budget if ram_budget is not None
                                                else budgets.from_env(budgets.RAM_ENV))
        self.reserve = budgets.activation_reserve()
        self._entries: dict[int, _Entry] = {}
        self._owner_of: dict = {}  # tensor key (_Slot.key) -> key of the entry that counts and moves it
        self._clock = itertools.count(1)
        self._lock = threading.RLock()
        self.events: list[dict] = []
        self.device_bytes = 0
        self.peak_device_bytes = 0
        self.bytes_moved = 0
        self.transfers = 0
        self.ram_history: list[int] = []  # bytes of models held in RAM after each load or reload

    # --- budgets ---------------------------------------------------------------------------------
    @property
    def vram_budget(self) -> int | None:
        if self.device.is_home:
            return None
        free = self.device.free_bytes()
        if free is not None and not self.device.simulated:
            free += self.device_bytes  # what the manager itself holds is available to it
            if self.device.torch_device.type == "cuda":  # blocks torch's allocator keeps cached are free too
                free += torch.cuda.memory_reserved(self.device.torch_device) - \
                    torch.cuda.memory_allocated(self.device.torch_device)
        return budgets.resolve(self.vram_setting, free, self.reserve)

    @property
    def ram_budget(self) -> int | None:
        return budgets.resolve(self.ram_setting, None, 0)

    def set_activation_reserve(self, nbytes: int) -> None:
        """The run's estimate of activation memory (from latent size, batch, tokens) for ``auto`` budgets."""
        self.reserve = int(nbytes)

    def report(self) -> dict:
        """Budgets and usage, for logs and the CLI (next to the result cache's budget)."""
        return {
            "device": repr(self.device),
            "vram_budget": self.vram_budget,
            "ram_budget": self.ram_budget,
            "device_bytes": self.device_bytes,
            "peak_device_bytes": self.peak_device_bytes,
            "bytes_moved": self.bytes_moved,
            "pinned_bytes": self.pinned_bytes(),
            "models": {e.name: {"bytes": e.nbytes, "on_device": e.device_bytes(), "released": e.released,
                                "policy": e.plan.policy if e.plan else None, "fp8_expansion": e.expansion,
                                "expanded_bytes": e.expanded_bytes(),
                                "pinned_bytes": sum(u.nbytes for u in e.units if u.pinned)}
                       for e in self._entries.values()},
        }

    def activation_room(self) -> int | None:
        """Device bytes left for activations now (None: the CPU, unbounded here)."""
        if self.device.is_home:
            return None
        if self.device.simulated:
            return self.device.activations
        return self.device.free_bytes()

    def note(self, kind: str, **info) -> None:
        """A decision taken elsewhere because of memory (e.g. a tiled decode), logged with the others."""
        self._event(kind, **info)

    def _event(self, kind: str, **info) -> None:
        event = {"event": kind, **info}
        self.events.append(event)
        log.info("%s %s", kind, " ".join(f"{k}={v}" for k, v in info.items()))

    # --- models ------------------------------------------------------------------------------------
    def adopt(self, module: nn.Module, name: str | None = None, reload: Callable[[], nn.Module] | None = None):
        """Take charge of a model loaded on the CPU; ``reload`` rebuilds it from its file (RAM budget)."""
        with self._lock:
            entry = self._entries.get(id(module))
            if entry is None:
                from ..loading import module_compute_dtype

                dtype = module_compute_dtype(module)
                found = _slots_by_unit(module)
                bases = self._bases_of([slot for _, _, slots in found for slot in slots])
                if bases:  # a patched copy: only its own tensors are its bytes, kept whole (see _shared)
                    own = [slot for _, _, slots in found for slot in slots if slot.key not in self._owner_of]
                    found = [("own", None, own)]
                for _, _, slots in found:  # homes are CPU tensors (a LoRA made while its base sat on the
                    for slot in slots:  # device has its factors there): what eviction points back at
                        if slot.home.device.type not in ("cpu", "meta"):
                            slot.home = slot.home.cpu()
                            slot.point_at(slot.home)
                units = [_Unit(label, block, slots, sum(s.nbytes for s in slots)) for label, block, slots in found]
                for unit in units:
                    unit.fp8 = fp8_layers_of(unit)
                    unit.expand_bytes = sum(layer.weight.numel() for layer in unit.fp8) * dtype.itemsize
                    unit.dtype = dtype
                key = id(module)
                ref = weakref.ref(module, lambda _ref, key=key: self._forget_dead(key))
                entry = _Entry(ref, key, name or type(module).__name__, units, reload, compute_dtype=dtype,
                               bases=bases)
                self._entries[id(module)] = entry
                for unit in units:
                    for slot in unit.slots:
                        self._owner_of[slot.key] = key
                if bases:
                    self._event("shares", model=entry.name, bases=[b.name for b in bases], bytes=entry.nbytes)
                if self.device.simulated:
                    self._guard(entry)
                self._event("adopted", model=entry.name, bytes=entry.nbytes, blocks=len(units) - 1)
                self._enforce_ram(keep={id(module)})
                self.ram_history.append(self.ram_bytes())
            elif reload is not None:
                entry.reload = reload
            return module

    def _bases_of(self, slots: list[_Slot]) -> list[_Entry]:
        """The managed models owning some of these tensors: a LoRA-patched copy shares its base's weights,
        so they are counted, placed and evicted once, through the base."""
        keys = {self._owner_of.get(slot.key) for slot in slots} - {None}
        return [self._entries[k] for k in keys if k in self._entries]

    def _guard(self, entry: _Entry) -> None:
        """On a simulated device, computing with a model that was not borrowed is an error (on a GPU it
        would be a device mismatch): every layer holding weights checks before its forward."""

        def check(module, _args):
            if not entry.in_use:
                raise RuntimeError(f"{entry.name} computed without being borrowed from the memory manager")

        # a patched copy's shallow module copies share their hook tables with the base's modules: a guard
        # there would stop the base from computing alone. The base's guards check the base (in use with it).
        base_tables = {id(m._forward_pre_hooks) for b in entry.bases for m in b.module.modules()}
        for sub in entry.module.modules():
            if id(sub._forward_pre_hooks) in base_tables:
                continue
            if any(t is not None for t in (*sub._parameters.values(), *sub._buffers.values())):
                entry.guards.append(sub.register_forward_pre_hook(check))

    def _forget_dead(self, key: int) -> None:
        """A model nobody holds any more (e.g. evicted from the result cache): drop its copies and hooks."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return
            for unit in entry.units:
                if unit.on_device:
                    for slot in unit.slots:  # shared modules may live on in a patched copy: point them home
                        slot.point_at(slot.home)
                    self.device_bytes -= unit.charged
                    unit.on_device = False
            for handle in entry.hooks + entry.guards:
                handle.remove()
            self._disown(entry)
            entry.units.clear()
            self._event("dropped", model=entry.name)
            for other in [e for e in self._entries.values() if entry in e.bases]:
                self._orphan(other)

    def _disown(self, entry: _Entry) -> None:
        for unit in entry.units:
            for slot in unit.slots:
                if self._owner_of.get(slot.key) == entry.key:
                    del self._owner_of[slot.key]

    def _orphan(self, entry: _Entry) -> None:
        """A patched copy whose base is gone: forget it, so its next borrow adopts all of its tensors."""
        if entry.in_use:
            return
        self._evict(entry, reason="its base model is gone")
        self._remove_hooks(entry)
        for handle in entry.guards:
            handle.remove()
        self._disown(entry)
        self._entries.pop(entry.key, None)

    def forget(self, module: nn.Module) -> None:
        with self._lock:
            entry = self._entries.pop(id(module), None)
            if entry is not None:
                self._evict(entry, reason="forgotten")
                self._remove_hooks(entry)
                for handle in entry.guards:
                    handle.remove()
                self._disown(entry)

    @contextlib.contextmanager
    def borrow(self, *modules: nn.Module):
        """Make the models ready to compute on the device for the duration of the block."""
        entries = [self._entries.get(id(m)) or self._entries[id(self.adopt(m))] for m in modules]
        for entry in list(entries):  # a patched copy computes with its base's weights: the base comes too
            entries += [b for b in entry.bases if b not in entries and b.key in self._entries]
        with self._lock:
            for entry in entries:
                entry.in_use += 1
            try:
                for entry in entries:
                    self._prepare(entry)
            except BaseException:
                for entry in entries:
                    entry.in_use -= 1
                raise
        try:
            yield modules[0] if len(modules) == 1 else modules
        finally:
            with self._lock:
                for entry in entries:
                    entry.in_use -= 1
                    entry.last_used = next(self._clock)
                    self._drop_streamed(entry)

    # --- placement ---------------------------------------------------------------------------------
    def _prepare(self, entry: _Entry) -> None:
        if entry.released:
            self._reload(entry)
        entry.last_used = next(self._clock)
        if self.device.is_home:
            if entry.plan is None:
                entry.plan = choose_plan(entry.nbytes, [], None)
            self._choose_home_expansion(entry)
            return
        budget = self.vram_budget
        others_in_use = sum(e.device_bytes() for e in self._entries.values() if e is not entry and e.in_use)
        room = None if budget is None else budget - others_in_use
        plan = choose_plan(entry.units[0].nbytes, [u.nbytes for u in entry.units[1:]], room, entry.name)
        if plan != entry.plan:
            self._event("plan", model=entry.name, policy=plan.policy, detail=plan.describe(),
                        budget=budgets.describe(budget),
                        pinned=plan.policy != "resident" and self.device.pins_memory)
            self._remove_hooks(entry)
            entry.plan = plan
            self._choose_expansion(entry, room)
        keep = [entry.units[0], *entry.units[1:1 + plan.resident_blocks]]
        for unit in entry.units[1 + plan.resident_blocks:]:
            self._unload(unit)
        needed = sum(self._cost(u) - (u.charged if u.on_device else 0) for u in keep) + \
            (plan.peak_bytes - plan.resident_bytes)
        self._make_room(entry, needed, budget)
        for unit in keep:
            self._load(unit)
            if unit.charged != self._cost(unit):
                self._recharge(unit)
        if plan.policy != "resident" and not entry.hooks:
            self._install_streaming(entry)
        if plan.policy != "resident" and self.device.pins_memory:
            self._pin(entry, entry.units[1 + plan.resident_blocks:])

    def _pin(self, entry: _Entry, units: list[_Unit]) -> None:
        """Give streamed units page-locked homes, so their prefetch overlaps compute (see Device.pins_memory).
        Pinned RAM cannot be swapped or reclaimed, so only what is copied every forward is pinned."""
        todo = [u for u in units if not u.pinned]
        if not todo:
            return
        for unit in todo:
            for slot in unit.slots:
                slot.home = self.device.pin(slot.home)
                if not unit.on_device:
                    slot.point_at(slot.home)
            unit.pinned = True
        self._event("pinned", model=entry.name, blocks=len(todo), bytes=sum(u.nbytes for u in todo))

    def pinned_bytes(self) -> int:
        return sum(u.nbytes for e in self._entries.values() for u in e.units if u.pinned)

    @staticmethod
    def _cost(unit: _Unit) -> int:
        """Device bytes of a unit once loaded: its weights, plus their expansion in "once" mode."""
        return unit.nbytes + (unit.expand_bytes if unit.fp8 and unit.fp8[0].expansion == "once" else 0)

    def _choose_expansion(self, entry: _Entry, room: int | None) -> None:
        """fp8 layers: expanded once when the expanded weights fit the room, else per layer (see expansion).
        The kept expansion is device memory like the weights: counted, and dropped with them."""
        from .expansion import apply_fp8_expansion, choose_fp8_expansion

        extra = sum(u.expand_bytes for u in entry.units)
        if not extra:
            return
        mode = choose_fp8_expansion(entry.nbytes, entry.nbytes + extra, room)
        apply_fp8_expansion(entry.module, mode)
        if mode != "once":  # kept expansions are gone: so are their bytes (new ones are made after room is)
            for unit in entry.units:
                if unit.on_device:
                    self._recharge(unit)
        self._event("fp8 expansion", model=entry.name, mode=mode, bytes=extra if mode == "once" else 0)

    def _choose_home_expansion(self, entry: _Entry) -> None:
        """Computing on the CPU, the expansion is RAM: under a RAM budget, "once" only when the model and its
        expansion fit next to the models in use (idle ones are released for it), else per layer. Without a
        RAM budget the loader's choice (from the machine's free memory) stands."""
        from .expansion import ONCE, apply_fp8_expansion, choose_fp8_expansion

        extra = sum(u.expand_bytes for u in entry.units)
        limit = self.ram_budget
        if not extra or limit is None:
            return
        in_use = sum(e.nbytes + e.expanded_bytes() for e in self._entries.values()
                     if e is not entry and e.in_use and not e.released)
        mode = choose_fp8_expansion(entry.nbytes, entry.nbytes + extra, limit - in_use)
        if mode != entry.expansion or (mode == ONCE and entry.expanded_bytes() < extra):
            if mode == ONCE:
                self._enforce_ram(keep={entry.key} | {e.key for e in self._entries.values() if e.in_use},
                                  incoming=extra - entry.expanded_bytes())
            apply_fp8_expansion(entry.module, mode)
            if mode == ONCE:  # expanded now, so the RAM it takes is counted from here on
                for unit in entry.units:
                    for layer in unit.fp8:
                        layer.compute_weight(entry.compute_dtype)
                self.ram_history.append(self.ram_bytes())
            self._event("fp8 expansion", model=entry.name, mode=mode, bytes=extra if mode == ONCE else 0)

    def _make_room(self, entry: _Entry, needed: int, budget: int | None) -> None:
        """Evict whole models not in use, least recently used first, until ``needed`` more bytes fit."""
        if budget is None:
            return
        idle = sorted((e for e in self._entries.values() if e is not entry and not e.in_use and e.device_bytes()),
                      key=lambda e: e.last_used)
        for other in idle:
            if self.device_bytes + needed <= budget:
                break
            self._evict(other, reason=f"room for {entry.name}")

    def _evict(self, entry: _Entry, reason: str) -> None:
        if entry.in_use:
            raise RuntimeError(f"internal error: {entry.name} is in use and cannot be evicted")
        moved = entry.device_bytes()
        for unit in entry.units:
            self._unload(unit)
        if moved:
            self._event("evicted", model=entry.name, bytes=moved, reason=reason)

    def _load(self, unit: _Unit, non_blocking: bool = False) -> None:
        if unit.on_device:
            return
        stream = self.device.copy_stream if non_blocking else None
        ctx = torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()
        with ctx:
            for slot in unit.slots:
                slot.point_at(self.device.copy_in(slot.home, non_blocking=stream is not None))
            if stream is not None:
                unit.pending = torch.cuda.Event()
                unit.pending.record(stream)
        unit.on_device = True
        unit.charged = self._cost(unit)
        if stream is None:
            self._expand(unit)
        self.device_bytes += unit.charged
        self.bytes_moved += unit.nbytes
        self.transfers += 1
        self.peak_device_bytes = max(self.peak_device_bytes, self.device_bytes)

    @staticmethod
    def _expand(unit: _Unit) -> None:
        """"once" fp8 layers: make the kept expansion now, so what is counted is what is there."""
        for layer in unit.fp8:
            if layer.expansion == "once":
                layer.compute_weight(unit.dtype)

    @staticmethod
    def _drop_expansion(unit: _Unit) -> None:
        for layer in unit.fp8:
            layer.expanded_weight, layer._expanded_from = None, None

    def _recharge(self, unit: _Unit) -> None:
        """A unit on the device whose fp8 mode changed: make or drop its expansion and count the difference."""
        cost = self._cost(unit)
        if cost > unit.nbytes:
            self._expand(unit)
        else:
            self._drop_expansion(unit)
        self.device_bytes += cost - unit.charged
        unit.charged = cost
        self.peak_device_bytes = max(self.peak_device_bytes, self.device_bytes)

    def _unload(self, unit: _Unit) -> None:
        if not unit.on_device:
            return
        for slot in unit.slots:
            slot.point_at(slot.home)
        self._drop_expansion(unit)
        unit.on_device = False
        unit.pending = None
        self.device_bytes -= unit.charged
        unit.charged = 0

    def _wait(self, unit: _Unit) -> None:
        if unit.pending is not None:
            torch.cuda.current_stream(self.device.torch_device).wait_event(unit.pending)
            for slot in unit.slots:
                current = slot.owner._parameters[slot.name] if slot.is_param else slot.owner._buffers[slot.name]
                current.record_stream(torch.cuda.current_stream(self.device.torch_device))
            unit.pending = None

    # --- streaming ---------------------------------------------------------------------------------
    def _install_streaming(self, entry: _Entry) -> None:
        streamed = entry.units[1 + entry.plan.resident_blocks:]
        for i, unit in enumerate(streamed):
            following = streamed[i + 1] if i + 1 < len(streamed) else None

            def before(_module, _args, unit=unit, following=following):
                with self._lock:
                    self._load(unit)
                    self._wait(unit)
                    if following is not None and entry.plan.prefetch:
                        self._load(following, non_blocking=True)

            def after(_module, _args, _output, unit=unit):
                with self._lock:
                    self._unload(unit)

            entry.hooks.append(unit.module.register_forward_pre_hook(before))
            entry.hooks.append(unit.module.register_forward_hook(after))

    def _remove_hooks(self, entry: _Entry) -> None:
        for handle in entry.hooks:
            handle.remove()
        entry.hooks.clear()

    def _drop_streamed(self, entry: _Entry) -> None:
        """After a borrow: streamed blocks (e.g. a prefetch past the last forward) leave the device."""
        if entry.plan is not None and entry.plan.policy != "resident":
            for unit in entry.units[1 + entry.plan.resident_blocks:]:
                self._unload(unit)

    # --- RAM -----------------------------------------------------------------------------------------
    def make_ram_room(self, nbytes: int) -> None:
        """Before loading a file of ``nbytes``: release idle models so that it fits the RAM budget."""
        with self._lock:
            self._enforce_ram(keep={e.key for e in self._entries.values() if e.in_use}, incoming=nbytes)

    def ram_bytes(self) -> int:
        """Bytes of models held in RAM; on the CPU this includes fp8 layers' kept expansions."""
        kept = sum(e.expanded_bytes() for e in self._entries.values()) if self.device.is_home else 0
        return sum(e.nbytes for e in self._entries.values() if not e.released) + kept

    def _enforce_ram(self, keep: set[int], incoming: int = 0) -> None:
        """Release idle reloadable models, least recently used first, until ``incoming`` more bytes fit."""
        limit = self.ram_budget
        if limit is None:
            return
        idle = sorted((e for e in self._entries.values()
                       if e.key not in keep and not e.in_use and not e.released and e.reload is not None),
                      key=lambda e: e.last_used)
        for entry in idle:
            if self.ram_bytes() + incoming <= limit:
                break
            self._release(entry)

    def _release(self, entry: _Entry) -> None:
        """Drop a model's weights from RAM (and the device); its module stays, with empty tensors."""
        self._evict(entry, reason="RAM budget")
        for unit in entry.units:
            self._drop_expansion(unit)
            unit.pinned = False
            for slot in unit.slots:
                slot.home = torch.empty(0, dtype=slot.home.dtype)
                slot.point_at(slot.home)
        entry.released = True
        self._event("released", model=entry.name, bytes=entry.nbytes)

    def _reload(self, entry: _Entry) -> None:
        """Read a released model's weights from its file again and point its module at them."""
        self._enforce_ram(keep={entry.key} | {e.key for e in self._entries.values() if e.in_use},
                          incoming=entry.nbytes)
        fresh = entry.reload()
        fresh_tensors = {}
        for mod_name, mod in fresh.named_modules():
            for table in (mod._parameters, mod._buffers):
                for name, t in table.items():
                    if t is not None:
                        fresh_tensors[f"{mod_name}.{name}" if mod_name else name] = t.data
        names = {}
        for mod_name, mod in entry.module.named_modules():
            for table in (mod._parameters, mod._buffers):
                for name, t in table.items():
                    if t is not None:
                        names.setdefault(id(mod), {})[name] = f"{mod_name}.{name}" if mod_name else name
        for unit in entry.units:
            unit.pinned = False  # fresh pageable homes: pinned again if streamed
            for slot in unit.slots:
                slot.home = fresh_tensors[names[id(slot.owner)][slot.name]]
                slot.point_at(slot.home)
        entry.released = False
        self.ram_history.append(self.ram_bytes())
        self._event("reloaded", model=entry.name, bytes=entry.nbytes)
