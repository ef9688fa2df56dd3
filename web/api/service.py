"""The API's side of the server's one queue: jobs submitted over HTTP, run one at a time, remembered.

Which client owns which job, and which job has the executor, is kept by the shared `RunBoard` (the
canvas's runs wait in the same queue). This module adds what an API caller needs on top: the submitted
document, a dispatcher thread that runs API jobs when the board gives them their turn, every job's
events (for SSE/WebSocket), and its final record, written to the SQLite history when it ends.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flux_core.graph import events as ev
from flux_core.graph.executor import Executor, RunFailed, RunInterrupted
from flux_core.graph.workflow import Problem, WorkflowError, parse_document

from ..jobs import Job, RunBoard, board_for
from ..limits import check_document_size
from ..runner import image_path, preview_data_url
from .history import History
from .routing import model_key
from .waiting import WaitingStore

MAX_WAITING = 10_000  # API jobs waiting at once; more are refused (503) rather than piling up
MAX_EVENTS = 5_000  # kept per job for late subscribers; the oldest progress events are dropped first
# job events added to the executor's run/node events
JOB_QUEUED, JOB_STARTED, JOB_FINISHED = "job_queued", "job_started", "job_finished"
SERVER_STOPPED = "server stopped while the job was running; submit it again"
ENDED = ("success", "error", "interrupted", "cancelled", "invalid")


@dataclass
class ApiJob:
    job: Job
    document: Any
    overrides: dict
    outputs: list[str] | None
    created: float = field(default_factory=time.time)
    status: str = "queued"
    started: float | None = None
    finished: float | None = None
    result: dict = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    first_event: int = 0  # index of events[0] in the job's whole event stream (old ones may be dropped)
    ended: threading.Event = field(default_factory=threading.Event)
    models: str | None = None  # the loaders' key (`routing.model_key`): which Ray actor suits it best

    @property
    def id(self) -> str:
        return self.job.id


class QueueFull(RuntimeError):
    pass


class ApiService:
    """Submit, look up, cancel and list API jobs; `close()` stops the dispatcher."""

    def __init__(self, executor: Executor, history: History | None = None, board: RunBoard | None = None,
                 remote=None):
        """`remote`: a `ray_jobs.RayPool` to run the jobs on (the `--ray` mode); None runs them here."""
        self.executor = executor
        self.remote = remote
        self.board = board or board_for(executor)
        self.history = history or History(Path(executor.env.output_dir))
        self.stored = WaitingStore(Path(self.history.path).parent)
        self._jobs: dict[str, ApiJob] = {}
        self._lock = threading.Condition()
        self._closed = False
        self._restore()
        self._thread = threading.Thread(target=self._dispatch, name="fluxwire-api-dispatcher", daemon=True)
        self._thread.start()

    # --- submitting -----------------------------------------------------------------------------
    def submit(self, owner: str | None, document: Any, overrides: dict | None = None,
               outputs: list[str] | None = None) -> ApiJob:
        """Check the document (with overrides) now, so a bad one is refused before it waits; queue it."""
        if not isinstance(document, dict):  # never a str: the executor would read it as a server path
            parse_document(document)  # raises the structured "a workflow is a JSON object" error
        if overrides is not None and not isinstance(overrides, dict):
            raise WorkflowError([Problem("overrides must be an object of NODE_ID.INPUT: value",
                                         code="bad_override")])
        check_document_size(document)
        graph = self.executor.validate(document, overrides or None)
        self.executor._targets(graph, outputs)  # an unknown output node is a problem of the request
        with self._lock:
            if sum(1 for j in self._jobs.values() if j.status == "queued") >= MAX_WAITING:
                raise QueueFull(f"the queue holds {MAX_WAITING:,} waiting jobs; try again later")
            job = self.board.submit(owner)
            record = ApiJob(job, document, dict(overrides or {}), outputs, models=model_key(graph))
            self.stored.add(job.id, job.owner, record.created, document, record.overrides, outputs)
            self._queue(record)
        return record

    def _queue(self, record: ApiJob) -> None:
        """(under the lock) A job the board already holds becomes visible to callers and the dispatcher."""
        self._jobs[record.id] = record
        self._add_event(record, {"type": JOB_QUEUED, "run_id": record.id, "position": self.board.ahead_of(record.job)})
        self._lock.notify_all()

    def _restore(self) -> None:
        """Jobs stored by an earlier server: waiting ones queue again in their order; one that was running
        when it stopped failed with it (it is recorded as such, not silently lost)."""
        for stored in self.stored.load():
            if self.history.get(stored.id) is not None:  # it ended just before the stop
                self.stored.remove(stored.id)
                continue
            job = self.board.submit(stored.owner, job_id=stored.id)
            record = ApiJob(job, stored.document, stored.overrides, stored.outputs, created=stored.created)
            if self.remote is not None and stored.state != "running":
                try:
                    record.models = model_key(self.executor.validate(stored.document, stored.overrides or None))
                except WorkflowError:
                    pass  # it fails with the same problems when it runs
            with self._lock:
                if stored.state == "running":
                    self._jobs[record.id] = record
                    self._end(record, "error", {"message": SERVER_STOPPED})
                else:
                    self._queue(record)

    # --- looking up -----------------------------------------------------------------------------
    def get(self, job_id: str) -> ApiJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def record(self, job_id: str) -> dict | None:
        """The job as JSON (live, or from the history after it ended or the server restarted)."""
        live = self.get(job_id)
        if live is not None:
            return self.describe(live)
        return self.history.get(job_id)

    def owner_of(self, job_id: str) -> str | None:
        live = self.get(job_id)
        return live.job.owner if live is not None else self.history.owner_of(job_id)

    def describe(self, record: ApiJob) -> dict:
        out = {"id": record.id, "status": record.status, "created": record.created, "started": record.started,
               "finished": record.finished}
        if record.status == "queued":
            out["position"] = self.board.ahead_of(record.job)
        out.update(record.result)
        return out

    def jobs_of(self, owner: str) -> list[dict]:
        with self._lock:
            mine = [j for j in self._jobs.values() if j.job.owner == owner]
        return [self.describe(j) for j in mine]

    def events_since(self, record: ApiJob, index: int) -> tuple[list[dict], int]:
        """Events from the job's `index`-th on (those already dropped are skipped), and the next index."""
        with self._lock:
            start = max(index - record.first_event, 0)
            new = record.events[start:]
            return new, record.first_event + len(record.events)

    # --- cancelling and the queue ---------------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        """Stop one job, waiting or running (a canvas run in the same queue too: the queue panel lists
        them). False when it is not (or no longer) going on."""
        record = self.get(job_id)
        if record is None:
            job = self.board.get(job_id)
            if job is None or job.status == "ended":
                return False
            self.board.stop_job(job)  # the canvas run ends itself, reporting "stopped"
            return True
        if record.status in ENDED:
            return False
        self.board.stop_job(record.job)
        with self._lock:
            if record.status == "queued":  # never started: it ends here
                self._end(record, "cancelled", {"message": "cancelled before it started"})
        return True

    def clear(self, owner: str | None = None) -> list[str]:
        """Cancel every waiting API job (only this owner's when given); the ids cancelled."""
        with self._lock:
            ids = [j.id for j in self._jobs.values() if j.status == "queued" and (owner is None or j.job.owner == owner)]
        return [i for i in ids if self.cancel(i)]

    def queue(self, owner: str | None = None) -> dict:
        """The running and waiting jobs of every client; `mine` marks those of `owner` (the caller)."""
        def entry(job: Job) -> dict:
            return {"id": job.id, "api": job.id in self._jobs, "mine": owner is not None and job.owner == owner}
        running = self.board.running_all()
        waiting = self.board.waiting()
        return {"paused": self.board.paused,
                "running": entry(running[0]) if running else None,
                "running_all": [entry(j) for j in running],
                "waiting": [{**entry(j), "position": i} for i, j in enumerate(waiting)]}

    # --- running --------------------------------------------------------------------------------
    def _next(self) -> ApiJob | None:
        for job in self.board.waiting():
            record = self._jobs.get(job.id)
            if record is not None and record.status == "queued" and not job.stopped:
                return record
        return None

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                record = self._next()
                if record is None:
                    self._lock.wait(0.5)
                    continue
            if self.remote is not None and not self.remote.has_room():
                time.sleep(0.05)  # every actor is busy: the job keeps its place in the queue
                continue
            if self.board.wait_turn(record.job, 0.1):
                if self.remote is not None:
                    self._start_remote(record)
                    continue
                try:
                    self._run(record)
                finally:
                    self.board.finish(record.job)

    def _start_remote(self, record: ApiJob) -> None:
        """Give the job an actor (the routing decides which) and free the queue for the next one."""
        slot = self.remote.reserve(record.models)
        while slot is None:  # a retried job took the last room just now
            time.sleep(0.05)
            slot = self.remote.reserve(record.models)
        self.board.hand_off(record.job)
        threading.Thread(target=self._run_remote, args=(record, slot), name=f"fluxwire-ray-{record.id}",
                         daemon=True).start()

    def _run_remote(self, record: ApiJob, slot: int) -> None:
        from .ray_jobs import write_answer_files

        job = record.job
        try:
            with self._lock:
                if record.status != "queued":  # cancelled just as it got its turn
                    self.remote.router.done(slot)
                    return
                record.status, record.started = "running", time.time()
                self.stored.started(job.id)
                self._add_event(record, {"type": JOB_STARTED, "run_id": job.id})

            def listen(event: dict) -> None:
                with self._lock:
                    self._add_event(record, event)

            try:
                answer = self.remote.run(slot, job.id, record.document, record.overrides, record.outputs, listen,
                                         lambda: job.stopped, key=record.models)
                status = answer["status"]
                ui = write_answer_files(answer, Path(self.executor.env.output_dir), Path(self.executor.env.preview_dir))
                extra = {"outputs": self._outputs(ui), "timings": answer.get("timings", {}),
                         "executed": answer.get("executed", []), "cached": answer.get("cached", []),
                         "worker": {"slot": answer.get("slot"), "pid": answer.get("pid")}}
                for key in ("message", "error", "problems"):
                    if key in answer:
                        extra[key] = answer[key]
                if status == "cancelled":
                    status = "cancelled" if job.stopped else "interrupted"
                    extra["message"] = "cancelled while running" if job.stopped else "interrupted on its worker"
            except Exception as e:  # noqa: BLE001 - the caller gets a sentence, the server keeps going
                status, extra = "error", {"message": f"{type(e).__name__}: {e}"}
            with self._lock:
                self._end(record, status, extra)
        finally:
            self.board.finish(job)

    def _run(self, record: ApiJob) -> None:
        job = record.job
        with self._lock:
            if record.status != "queued":  # cancelled just as it got its turn
                return
            record.status, record.started = "running", time.time()
            self.stored.started(job.id)
            self._add_event(record, {"type": JOB_STARTED, "run_id": job.id})

        def listen(event: dict) -> None:
            if event.get("type") == ev.RUN_STARTED and job.stopped:  # stopped while the run was starting
                self.executor.interrupt()
            with self._lock:
                self._add_event(record, self._json_event(event))

        try:
            result = self.executor.run(record.document, record.overrides or None, outputs=record.outputs,
                                       listener=listen, run_id=job.id)
            status, extra = "success", self._result(result)
        except RunInterrupted as e:
            status, extra = ("cancelled" if job.stopped else "interrupted"), {
                **self._result(e.result), "message": "cancelled while running"}
        except RunFailed as e:
            status, extra = "error", {**self._result(e.result), "message": str(e),
                                      "error": {"node": e.node_id, "node_type": e.node_type, "input": e.input,
                                                "message": e.message}}
        except WorkflowError as e:  # a file the document names went away while it waited
            status, extra = "invalid", {"message": str(e), "problems": [p.to_dict() for p in e.problems]}
        except Exception as e:  # noqa: BLE001 - the caller gets a sentence, the server keeps going
            status, extra = "error", {"message": f"{type(e).__name__}: {e}"}
        with self._lock:
            self._end(record, status, extra)

    def _end(self, record: ApiJob, status: str, extra: dict) -> None:
        """(under the lock) The job's final record: kept in memory briefly and in the history for good."""
        record.status, record.finished = status, time.time()
        record.result = extra
        self._add_event(record, {"type": JOB_FINISHED, "run_id": record.id, "status": status})
        record.ended.set()
        if record.job.status != "ended":
            self.board.finish(record.job)
        self.history.add(self.describe(record), record.job.owner)
        self.stored.remove(record.id)
        self._forget_old()

    def _forget_old(self) -> None:
        """Ended jobs stay in memory (with their events) for a while; the history keeps the record."""
        ended = [j for j in self._jobs.values() if j.status in ENDED]
        for old in sorted(ended, key=lambda j: j.finished or 0)[:max(0, len(ended) - 200)]:
            del self._jobs[old.id]

    def _result(self, result) -> dict:
        return {"outputs": self._outputs(result.ui), "timings": dict(result.timings),
                "executed": list(result.executed), "cached": list(result.cached)}

    def _outputs(self, ui: dict) -> dict:
        """Each node's UI data with its pictures as (filename, subfolder, type) that /api/view serves."""
        out = {}
        for nid, data in ui.items():
            shown = {k: v for k, v in data.items() if k != "images"}
            images = [ref for ref in (self.image_ref(item) for item in data.get("images") or []) if ref]
            if images:
                shown["images"] = images
            out[nid] = shown
        return out

    def image_ref(self, item: Any) -> dict | None:
        env = self.executor.env
        path = image_path(item, Path(env.output_dir))
        if path is None:
            return None
        for kind, root in (("output", Path(env.output_dir)), ("temp", Path(env.preview_dir))):
            try:
                rel = path.resolve().relative_to(root.resolve())
            except ValueError:
                continue
            return {"filename": rel.name, "subfolder": rel.parent.as_posix() if rel.parent.parts else "",
                    "type": kind}
        return None

    @staticmethod
    def _json_event(event: dict) -> dict:
        out = {}
        for key, value in event.items():
            if key == "preview":
                if value is not None:
                    url = preview_data_url(value)
                    if url:
                        out["preview"] = url
            elif key == "workflow":
                continue
            elif isinstance(value, (str, int, float, bool, type(None), list, dict)):
                out[key] = value
        return out

    def _add_event(self, record: ApiJob, event: dict) -> None:
        record.events.append(event)
        if len(record.events) > MAX_EVENTS:
            drop = len(record.events) - MAX_EVENTS
            record.events = record.events[drop:]
            record.first_event += drop

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout=5)  # waiting jobs stay stored: the next server on this folder runs them
