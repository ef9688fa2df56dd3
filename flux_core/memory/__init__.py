"""Device and RAM memory for model weights: budgets, residency policies, streaming (see ``manager``).

Nodes call :func:`borrow` around the compute that needs a model; loaders call :func:`adopt` after
building a model on the CPU (:func:`load_device`). The manager used is the running executor's
(``ctx.env.memory``), else a process-wide one for the central device.
"""
from __future__ import annotations

import contextlib
import threading

from .budget import BudgetError, activation_reserve, parse_budget
from .devices import Device, SimulatedDevice
from .manager import MemoryManager
from .plan import MemoryBudgetError, Plan, choose_plan, module_plan

_default: MemoryManager | None = None
_default_lock = threading.Lock()


def default_manager() -> MemoryManager:
    """The process-wide manager (central device, budgets from FLUXWIRE_VRAM_BUDGET / FLUXWIRE_RAM_BUDGET)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MemoryManager()
        return _default


def manager_for(ctx=None) -> MemoryManager:
    """The running executor's manager (made on first use from its device and budgets), else the default."""
    env = getattr(ctx, "env", None)
    if env is None:
        return default_manager()
    with _default_lock:
        if getattr(env, "memory", None) is None:
            env.memory = MemoryManager(device=str(ctx.device), vram_budget=env.vram_budget,
                                       ram_budget=env.ram_budget)
        return env.memory


def load_device(ctx=None):
    """Where loaders build models: the CPU, their home; the manager copies them to the device on borrow."""
    import torch

    return torch.device("cpu")


def compute_device(ctx=None):
    """The device models compute on (decides their default compute dtype when loading)."""
    return manager_for(ctx).device.torch_device


def adopt(module, ctx=None, name: str | None = None, reload=None):
    """Hand a freshly loaded model to the manager; returns the module."""
    return manager_for(ctx).adopt(module, name=name, reload=reload)


@contextlib.contextmanager
def borrow(*modules, ctx=None):
    """``with borrow(model, ctx=ctx) as m:`` - the model on the compute device for the block's duration."""
    with manager_for(ctx).borrow(*modules) as borrowed:
        yield borrowed


__all__ = [
    "BudgetError",
    "Device",
    "MemoryBudgetError",
    "MemoryManager",
    "Plan",
    "SimulatedDevice",
    "activation_reserve",
    "adopt",
    "borrow",
    "choose_plan",
    "compute_device",
    "default_manager",
    "load_device",
    "manager_for",
    "module_plan",
    "parse_budget",
]
