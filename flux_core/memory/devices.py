"""Where borrowed weights go: a real torch device, or a simulated accelerator with a byte budget.

The manager asks a device only three things: which torch device tensors compute on, how to copy a
home (CPU) tensor onto it, and how much memory is free. The simulated device computes on the CPU but
makes a real copy for every transfer, exactly as a GPU would hold its own copy, so the manager's
accounting (every transfer, the resident set, the peak) is exercised in tests on any machine.
"""
from __future__ import annotations

import torch


class Device:
    """A real torch device (cuda, mps, or cpu)."""

    simulated = False

    def __init__(self, device):
        self.torch_device = torch.device(device)
        self.copy_stream = None
        if self.torch_device.type == "cuda":
            self.copy_stream = torch.cuda.Stream(device=self.torch_device)

    @property
    def is_home(self) -> bool:
        """Weights computed on the CPU need no copy: home and device are the same memory."""
        return self.torch_device.type == "cpu"

    def copy_in(self, t: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
        return t.to(self.torch_device, non_blocking=non_blocking)

    def free_bytes(self) -> int | None:
        if self.torch_device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.torch_device)
            return int(free)
        return None

    def __repr__(self) -> str:
        return str(self.torch_device)


class SimulatedDevice(Device):
    """A CPU "accelerator" with ``capacity`` bytes for weights: transfers are real copies, placed in separate
    memory. ``activations`` (bytes, default unlimited) is the room left for activations, which decides
    e.g. whether the autoencoder works in tiles."""

    simulated = True

    def __init__(self, capacity: int, activations: int | None = None):
        self.torch_device = torch.device("cpu")
        self.copy_stream = None
        self.capacity = int(capacity)
        self.activations = activations

    @property
    def is_home(self) -> bool:
        return False

    def copy_in(self, t: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
        return t.clone()

    def free_bytes(self) -> int | None:
        return self.capacity

    def __repr__(self) -> str:
        return f"simulated({self.capacity} bytes)"
