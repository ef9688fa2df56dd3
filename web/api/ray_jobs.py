"""The API's `--ray` mode: queued jobs run on long-lived Ray actors instead of the server's executor.

Optional (`pip install 'fluxwire[ray]'`): imported only when `--ray` is given. The server keeps the
queue, the owners, the events and the history exactly as in local mode; only the run itself happens on
an actor. Each actor owns one `Executor` for its life, so models it loaded stay loaded for the next job
that needs them, and `Router` sends a job to an actor that already holds its models. An actor runs a
job into a private scratch folder and hands back the files' bytes; the server writes them into its own
output folder (so a job whose actor died and was re-run elsewhere is still written exactly once).
Events reach the server by polling the actor (a few times a second), since an actor call returns once.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .routing import Router

MAX_RETRIES = 2  # per job, when its actor dies
EVENT_POLL = 0.2  # seconds between asking an actor for a running job's new events


class JobWorker:
    """(Ray actor, threaded) One executor for the actor's life; runs one job at a time into a scratch
    folder, and answers `events`/`interrupt` calls while a job runs."""

    def __init__(self, models_dir: str | None, nodes_dir: str | None, input_dir: str | None,
                 threads: int | None, device: str | None = None):
        from flux_core.graph.executor import Executor

        if threads:
            import torch

            torch.set_num_threads(threads)  # the server's count: same arithmetic, same bytes
        self.scratch = Path(tempfile.mkdtemp(prefix="fluxwire-ray-api-"))
        self.executor = Executor(models_dir=models_dir, nodes_dir=nodes_dir, output_dir=self.scratch / "out",
                                 input_dir=input_dir or "input", device=device)
        self._run_lock = threading.Lock()
        self._lock = threading.Lock()
        self._events: dict[str, list[dict]] = {}
        self._cancelled: set[str] = set()
        self._current: str | None = None

    def pid(self) -> int:
        return os.getpid()

    def events(self, run_id: str, start: int) -> list[dict]:
        with self._lock:
            return list(self._events.get(run_id, [])[start:])

    def interrupt(self, run_id: str) -> None:
        """Stop this job: now if it runs, before it starts if it still waits for this actor."""
        with self._lock:
            self._cancelled.add(run_id)
            if self._current == run_id:
                self.executor.interrupt()

    def run(self, run_id: str, document: dict, overrides: dict, outputs: list[str] | None) -> dict:
        from flux_core.graph.executor import RunFailed, RunInterrupted
        from flux_core.graph.workflow import WorkflowError

        from .service import ApiService

        with self._lock:
            self._events[run_id] = []

        def listen(event: dict) -> None:
            with self._lock:
                self._events[run_id].append(ApiService._json_event(event))
                if event.get("type") == "run_started" and run_id in self._cancelled:
                    self.executor.interrupt()  # stopped while the run was starting: now it can be

        with self._run_lock:
            folder = self.executor.env.output_dir
            shutil.rmtree(folder, ignore_errors=True)
            with self._lock:
                if run_id in self._cancelled:
                    return {"status": "cancelled", "pid": os.getpid()}
                self._current = run_id
            answer: dict[str, Any] = {"pid": os.getpid(), "files": []}
            result = None
            try:
                result = self.executor.run(document, overrides or None, outputs=outputs, listener=listen,
                                           run_id=run_id)
                answer["status"] = "success"
            except RunInterrupted as e:
                result, answer["status"] = e.result, "cancelled"
            except RunFailed as e:
                result, answer["status"] = e.result, "error"
                answer["message"] = str(e)
                answer["error"] = {"node": e.node_id, "node_type": e.node_type, "input": e.input,
                                   "message": e.message}
            except WorkflowError as e:
                answer.update(status="invalid", message=str(e), problems=[p.to_dict() for p in e.problems])
            except Exception as e:  # noqa: BLE001 - the caller gets a sentence, the actor keeps going
                answer.update(status="error", message=f"{type(e).__name__}: {e}")
            finally:
                with self._lock:
                    self._current = None
                    self._cancelled.discard(run_id)
            if result is not None:
                answer.update(executed=list(result.executed), cached=list(result.cached),
                              timings=dict(result.timings), ui=self._portable_ui(result.ui, answer["files"]))
            shutil.rmtree(folder, ignore_errors=True)
            return answer

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._events.pop(run_id, None)

    def _portable_ui(self, ui: dict, files: list) -> dict:
        """The UI data with each picture replaced by {"ray_file": n}, its bytes put in `files`."""
        from web.runner import image_path

        roots = (("output", self.executor.env.output_dir), ("temp", Path(self.executor.env.preview_dir)))
        out = {}
        for nid, data in ui.items():
            shown = dict(data)
            if data.get("images"):
                shown["images"] = []
                for item in data["images"]:
                    path = image_path(item, self.executor.env.output_dir)
                    for kind, root in roots:
                        if path is not None and root.resolve() in path.resolve().parents:
                            files.append((kind, path.resolve().relative_to(root.resolve()).as_posix(),
                                          path.read_bytes()))
                            shown["images"].append({"ray_file": len(files) - 1})
                            break
            out[nid] = shown
        return out


class RayPool:
    """The server side: actors, routing, one remote job at a time per call to `run`."""

    def __init__(self, *, address: str = "auto", actors: int = 2, actor_cpus: float = 1, actor_gpus: float = 0,
                 models_dir: str | None = None, nodes_dir: str | None = None, input_dir: str | None = None,
                 device: str | None = None):
        from flux_core.ray_sweep import join_cluster

        self.ray = ray = join_cluster(address)
        import torch

        self._args = (str(models_dir) if models_dir else os.environ.get("FLUXWIRE_MODELS_DIR"),
                      str(nodes_dir) if nodes_dir else None, str(Path(input_dir).resolve()) if input_dir else None,
                      torch.get_num_threads(), device)
        self._class = ray.remote(num_cpus=actor_cpus, num_gpus=actor_gpus, max_restarts=0,
                                 max_concurrency=4)(JobWorker)
        self._lock = threading.Lock()
        self.actors = [self._class.remote(*self._args) for _ in range(actors)]
        self.router = Router(actors)
        self.replaced = 0

    def has_room(self) -> bool:
        return self.router.has_room()

    def reserve(self, key: str | None) -> int | None:
        return self.router.choose(key)

    def run(self, slot: int, run_id: str, document: dict, overrides: dict, outputs: list[str] | None,
            listen: Callable[[dict], None], stopped: Callable[[], bool], key: str | None = None) -> dict:
        """Run the job on the actor in `slot` (reserved by `reserve`); on actor death, again elsewhere.
        Returns the actor's answer with `files` and the slot that ran it (`slot`)."""
        from ray.exceptions import RayActorError

        attempts = 0
        try:
            while True:
                actor = self.actors[slot]
                try:
                    answer = self._run_on(actor, run_id, document, overrides, outputs, listen, stopped)
                    answer["slot"] = slot
                    return answer
                except RayActorError as e:
                    self._replace(slot, actor)
                    attempts += 1
                    if attempts > MAX_RETRIES or stopped():
                        return {"status": "error", "slot": slot,
                                "message": f"the Ray actor running the job died {attempts} times: {e}"}
                    listen({"type": "job_retried", "run_id": run_id, "attempt": attempts + 1})
                    self.router.done(slot)
                    slot = self._wait_for_slot(key)
        finally:
            self.router.done(slot)

    def _wait_for_slot(self, key: str | None) -> int:
        while True:
            slot = self.router.choose(key)
            if slot is not None:
                return slot
            time.sleep(EVENT_POLL)

    def _run_on(self, actor, run_id, document, overrides, outputs, listen, stopped) -> dict:
        ray = self.ray
        ref = actor.run.remote(run_id, document, overrides, outputs)
        seen, interrupted = 0, False
        while True:
            ready, _ = ray.wait([ref], timeout=EVENT_POLL)
            if stopped() and not interrupted:
                actor.interrupt.remote(run_id)
                interrupted = True
            new = ray.get(actor.events.remote(run_id, seen))
            for event in new:
                listen(event)
            seen += len(new)
            if ready:
                answer = ray.get(ref)  # raises RayActorError when the actor died
                for event in ray.get(actor.events.remote(run_id, seen)):
                    listen(event)
                actor.forget.remote(run_id)
                return answer

    def _replace(self, slot: int, dead) -> None:
        with self._lock:
            if self.actors[slot] is dead:
                self.actors[slot] = self._class.remote(*self._args)
                self.router.forget(slot)
                self.replaced += 1

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass


def write_answer_files(answer: dict, output_dir: Path, preview_dir: Path) -> dict:
    """Write an actor's pictures into the server's folders (numbered as a local run numbers them) and
    return its UI data pointing at them."""
    from flux_core.files import write_new
    from flux_core.ray_sweep import write_like_serial

    paths = []
    for kind, rel, data in answer.get("files") or []:
        if kind == "output":
            paths.append(str(write_like_serial(output_dir, rel, data)))
        else:
            target = Path(preview_dir) / rel
            if target.exists():
                target.unlink()
            paths.append(str(write_new(preview_dir, rel, data)))
    ui = {}
    for nid, data in (answer.get("ui") or {}).items():
        shown = dict(data)
        if "images" in data:
            shown["images"] = [paths[item["ray_file"]] for item in data["images"]]
        ui[nid] = shown
    return ui
