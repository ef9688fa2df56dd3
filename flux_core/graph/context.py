"""What a node sees while it runs: where files live, the device, progress reporting, interrupt.

Nodes never pick a device or a folder themselves; they ask their `NodeContext`.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


_PREVIEW_LOCK = threading.Lock()


class Interrupted(Exception):
    """Raised inside a run when someone called `Executor.interrupt()`."""


_running = threading.local()  # the stop flag of the run whose node code this thread is executing


def bind_stop_flag(flag: threading.Event | None) -> None:
    """Tell `stop_point` which run this thread works for (the executor's node worker calls this)."""
    _running.flag = flag


def stop_point() -> None:
    """Raise `Interrupted` if the run this thread works for was stopped.

    Cheap (one attribute read and one flag test), so model code can call it between transformer or VAE
    blocks without being handed a NodeContext. Outside a run it does nothing."""
    flag = getattr(_running, "flag", None)
    if flag is not None and flag.is_set():
        raise Interrupted()


@dataclass
class Environment:
    """Folders and settings shared by every node of an executor."""

    models_dir: Path | None = None  # None: FLUXWIRE_MODELS_DIR, else ./models
    output_dir: Path = Path("output")
    input_dir: Path = Path("input")
    device: str | None = None  # None: the central automatic choice
    temp_dir: Path = Path(tempfile.gettempdir())  # where this environment's private preview folder is made
    library_dir: Path | None = None  # the user's subgraph library; None: $FLUXWIRE_LIBRARY_DIR, else ./library
    vram_budget: Any = None  # None: FLUXWIRE_VRAM_BUDGET, else "auto"; a size, "auto" or a preset
    ram_budget: Any = None  # None: FLUXWIRE_RAM_BUDGET, else unlimited
    memory: Any = None  # the MemoryManager, made on first use (flux_core.memory.manager_for)
    _preview_dir: Path | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        from ..model_folders import default_models_dir

        self.models_dir = Path(self.models_dir) if self.models_dir is not None else default_models_dir()
        self.output_dir = Path(self.output_dir)
        self.input_dir = Path(self.input_dir)
        self.temp_dir = Path(self.temp_dir)

    @property
    def preview_dir(self) -> Path:
        """This environment's own folder for pictures that are shown, not kept (PreviewImage).

        Made on first use under `temp_dir` (mode 0700, so no one else can plant links in it) and removed when
        the environment is garbage-collected or the process exits; folders of processes that were killed are
        removed the next time one is made. Never shared between servers or executors."""
        with _PREVIEW_LOCK:  # two runs asking at once must not make two folders
            if self._preview_dir is None:
                from ..files import private_folder

                self._preview_dir = private_folder(self.temp_dir, "previews")
                weakref.finalize(self, shutil.rmtree, str(self._preview_dir), True)
        return self._preview_dir


@dataclass
class NodeContext:
    """Handed to `Node.run` as ``ctx``."""

    node_id: str
    node_type: str
    env: Environment
    run_info: dict = field(default_factory=dict)  # the document being run, overrides, run id
    _report: Callable[[int, int, Any], None] | None = None
    _interrupt: threading.Event | None = None
    ui: dict = field(default_factory=dict)

    @property
    def device(self):
        """The executor's device if it was given one, else the central automatic choice."""
        from ..device import get_device

        if self.env.device and self.env.device != "auto":
            import torch

            return torch.device(self.env.device)
        return get_device()

    @property
    def models_dir(self) -> Path:
        return self.env.models_dir

    @property
    def output_dir(self) -> Path:
        return self.env.output_dir

    @property
    def input_dir(self) -> Path:
        return self.env.input_dir

    def check_interrupted(self) -> None:
        """Raise `Interrupted` if the run was asked to stop; long nodes call this between steps."""
        if self._interrupt is not None and self._interrupt.is_set():
            raise Interrupted()

    def progress(self, value: int, maximum: int, preview: Any = None) -> None:
        """Report progress (and optionally a small preview PIL image); also a point where a run can stop."""
        self.check_interrupted()
        if self._report is not None:
            self._report(value, maximum, preview)

    def show(self, **ui: Any) -> None:
        """Attach data for the canvas to this node's result (e.g. saved image paths); cached with it."""
        self.ui.update(ui)
