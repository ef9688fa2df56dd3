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

    @property
    def pins_memory(self) -> bool:
        """Streamed weights get page-locked (pinned) CPU homes: only then is a CUDA copy on the side stream
        truly asynchronous (from pageable memory the driver stages it synchronously)."""
        return self.torch_device.type == "cuda"

    def pin(self, t: torch.Tensor) -> torch.Tensor:
        """A page-locked copy of a CPU tensor (it replaces the home; the pageable or mmap'd one is dropped)."""
        return t.pin_memory(self.torch_device)

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

    def __init__(self, capacity: int, activations: int | None = None, pinned: bool = False):
        self.torch_device = torch.device("cpu")
        self.copy_stream = None
        self.capacity = int(capacity)
        self.activations = activations
        self.pinned = pinned  # behave like a CUDA device for pinning (CPU-only torch cannot page-lock)

    @property
    def is_home(self) -> bool:
        return False

    def copy_in(self, t: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
        return t.clone()

    @property
    def pins_memory(self) -> bool:
        return self.pinned

    def pin(self, t: torch.Tensor) -> torch.Tensor:
        return t.clone()  # what pinning does to the home: a new buffer with the same values

    def free_bytes(self) -> int | None:
        return self.capacity

    def __repr__(self) -> str:
        return f"simulated({self.capacity} bytes{', pinned' if self.pinned else ''})"
