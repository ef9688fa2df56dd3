"""Sweeps on a Ray cluster: long-lived actors keep the models loaded, the driver writes the results.

Optional (`pip install fluxwire[ray]`): nothing imports this module or Ray unless `--ray` is given.
Each actor owns one `Executor` for its whole life, so its models load once and stay loaded across the
cells it runs. An actor runs a cell into a private scratch folder and returns the files' bytes; the
driver writes them into the user's output folder in cell order, under the names a serial run gives
them — so the files are byte-identical to `fluxwire sweep` without Ray, and a cell whose actor died
(retried on a fresh actor) is still written exactly once.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

from .sweep import Axis, Cell, grid
from .graph.workflow import Problem, WorkflowError

MAX_RETRIES = 3  # per cell, on actor failure
_NUMBERED = re.compile(r"^(.*)_(\d+)(\.[A-Za-z0-9]+)$")


def check_reachable(address: str) -> None:
    """A HOST:PORT nobody listens on makes `ray.init` retry for minutes: say so at once instead."""
    import socket

    host, colon, port = address.rpartition(":")
    if not colon or "://" in address or not port.isdigit():
        return  # auto, local, ray://...: Ray answers these itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise WorkflowError([Problem(f"--ray {address}: no Ray cluster answers there ({e})", code="no_ray")]) from None


def join_cluster(address: str):
    """The `ray` module, joined to the cluster at `address` (auto, local, HOST:PORT, ray://...) unless this
    process already is: a missing Ray, an address nobody answers at or a failing join is one WorkflowError."""
    try:
        import ray
    except ImportError:
        raise WorkflowError([Problem("--ray needs Ray: pip install 'fluxwire[ray]'", code="no_ray")]) from None
    if not ray.is_initialized():
        check_reachable(address)
        try:
            ray.init(address=None if address in ("local", "") else address, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        except Exception as e:  # noqa: BLE001 - no cluster there, a bad address...: one clear sentence
            raise WorkflowError([Problem(f"--ray {address}: cannot join a Ray cluster: {e}", code="no_ray")]) from None
    return ray


def write_like_serial(output_dir: str | Path, rel: str, data: bytes) -> Path:
    """Write a file an actor made as `rel` in its scratch folder (prefix_00001.png) under the next free
    number in `output_dir`, as a local run would have named it; other names are written as they are."""
    from .files import write_new, write_numbered

    m = _NUMBERED.match(rel)
    if m:
        return write_numbered(output_dir, m.group(1), m.group(3), data, digits=len(m.group(2)))
    return write_new(output_dir, rel, data)


class CellWorker:
    """(Ray actor) One executor kept for the actor's life; runs cells into a scratch folder."""

    def __init__(self, models_dir: str | None, threads: int | None):
        import tempfile

        from .graph.executor import Executor

        if threads:
            import torch

            torch.set_num_threads(threads)  # the driver's count: same arithmetic, same bytes
        self.scratch = Path(tempfile.mkdtemp(prefix="fluxwire-ray-"))
        self.executor = Executor(models_dir=models_dir, output_dir=self.scratch)

    def pid(self) -> int:
        return os.getpid()

    def run(self, index: int, document: dict, overrides: dict, outputs: list[str] | None) -> dict:
        import shutil

        from .graph.executor import RunFailed

        folder = self.scratch / f"cell-{index}"
        shutil.rmtree(folder, ignore_errors=True)
        self.executor.env.output_dir = folder
        answer: dict[str, Any] = {"index": index, "pid": os.getpid(), "files": [], "error": None}
        try:
            result = self.executor.run(document, overrides, outputs=outputs)
            answer["status"] = "success"
        except RunFailed as e:
            result, answer["status"], answer["error"] = e.result, "error", str(e)
        answer["executed"], answer["cached"] = list(result.executed), list(result.cached)
        for ui in result.ui.values():
            for item in ui.get("images") or []:
                path = Path(item if isinstance(item, str) else item.get("path", ""))
                if path.is_file() and folder in path.parents:
                    answer["files"].append((path.relative_to(folder).as_posix(), path.read_bytes()))
        shutil.rmtree(folder, ignore_errors=True)
        return answer


class RaySweep:
    """Run a sweep's cells on `actors` Ray actors; `run()` returns the cells in grid order."""

    def __init__(self, document: dict, axes: list[Axis], output_dir: str | Path, *, address: str = "auto",
                 actors: int = 2, actor_cpus: float = 1, actor_gpus: float = 0, base_overrides: dict | None = None,
                 outputs: list[str] | None = None, models_dir: str | None = None,
                 on_cell: Callable[[Cell, "RaySweep"], None] | None = None,
                 on_result: Callable[[int, "RaySweep"], None] | None = None):
        self.ray = ray = join_cluster(address)
        self.document, self.axes, self.output_dir = document, axes, Path(output_dir)
        self.base, self.outputs, self.on_cell, self.on_result = dict(base_overrides or {}), outputs, on_cell, on_result
        self.models_dir = str(models_dir) if models_dir else os.environ.get("FLUXWIRE_MODELS_DIR")
        import torch

        self.threads = torch.get_num_threads()
        self._actor_class = ray.remote(num_cpus=actor_cpus, num_gpus=actor_gpus, max_restarts=0)(CellWorker)
        self.actors = [self._new_actor() for _ in range(actors)]
        self.attempts: dict[int, int] = {}
        self.in_flight: dict[Any, tuple[int, Any]] = {}
        self.actors_replaced = 0

    def _new_actor(self):
        return self._actor_class.remote(self.models_dir, self.threads)

    def run(self) -> list[Cell]:
        ray = self.ray
        from ray.exceptions import RayActorError

        cells = grid(self.axes)
        pending = list(range(len(cells)))
        in_flight = self.in_flight = {}  # ref -> (cell index, actor)
        results: dict[int, dict] = {}
        written = 0
        while pending or in_flight:
            busy = {id(actor) for _, actor in in_flight.values()}
            for actor in self.actors:
                if pending and id(actor) not in busy:
                    index = pending.pop(0)
                    self.attempts[index] = self.attempts.get(index, 0) + 1
                    ref = actor.run.remote(index, self.document, {**self.base, **cells[index].overrides},
                                           self.outputs)
                    in_flight[ref] = (index, actor)
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                index, actor = in_flight.pop(ref)
                try:
                    results[index] = ray.get(ref)
                    if self.on_result:
                        self.on_result(index, self)
                except RayActorError:
                    if self.attempts[index] > MAX_RETRIES:
                        results[index] = {"index": index, "status": "error", "files": [], "executed": [],
                                          "cached": [], "error": f"the actor failed {MAX_RETRIES + 1} times"}
                    else:
                        pending.insert(0, index)
                    if actor in self.actors:  # replace the dead actor
                        self.actors[self.actors.index(actor)] = self._new_actor()
                        self.actors_replaced += 1
            while written in results:  # in grid order, so names match a serial run's
                self._write(cells[written], results.pop(written))
                written += 1
        return cells

    def _write(self, cell: Cell, answer: dict) -> None:
        cell.status, cell.error = answer["status"], answer.get("error")
        cell.executed, cell.cached = answer.get("executed", []), answer.get("cached", [])
        for rel, data in answer["files"]:
            cell.images.append(str(write_like_serial(self.output_dir, rel, data)))
        if self.on_cell:
            self.on_cell(cell, self)
