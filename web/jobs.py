"""Who owns which run on a shared server, and which run has the executor: the one place that knows.

Every run is submitted as a `Job` with an owner: the client that started it (a browser tab's Gradio
session, an API caller's session). Only that owner can stop it. The board hands the executor to one job
at a time, first come first served, so a run that waits is known here and a stop cancels it before it
starts. A caller without a session owns nothing: it can start runs but stop none.

Built for the canvas (`CanvasRunner`) and meant to be reused as is by an HTTP API.
"""
from __future__ import annotations

import threading
import uuid
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Job:
    id: str
    owner: str
    stop_requested: threading.Event = field(default_factory=threading.Event)
    status: str = "queued"  # queued | running | ended

    @property
    def stopped(self) -> bool:
        return self.stop_requested.is_set()


class RunBoard:
    """Jobs by owner, a first-come queue for the executor, and stopping that respects ownership.

    `interrupt` is called (under the board's lock) when the running job is stopped; it must stop only the
    executor's current run, which is always the running job's because only that job may start one."""

    def __init__(self, interrupt: Callable[[], None]):
        self._interrupt = interrupt
        self._cond = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._running: Job | None = None
        self._elsewhere: list[Job] = []  # running, but not on this executor (handed off to Ray actors)
        self._paused = False

    def submit(self, owner: str | None, job_id: str | None = None) -> Job:
        """A new job at the back of the queue. No owner: a private one nobody else can name.
        `job_id`: keep the id a job had before a restart (the API's waiting jobs are stored)."""
        job_id = job_id or uuid.uuid4().hex[:12]
        job = Job(job_id, owner or f"anonymous-{job_id}")
        with self._cond:
            self._jobs[job.id] = job
            self._waiting.append(job)
        return job

    def owner_of(self, job_id: str) -> str | None:
        with self._cond:
            job = self._jobs.get(job_id)
            return job.owner if job else None

    def jobs_of(self, owner: str) -> list[Job]:
        with self._cond:
            return [j for j in self._jobs.values() if j.owner == owner]

    def ahead_of(self, job: Job) -> int:
        """How many runs will have the executor before this one (the running one included)."""
        with self._cond:
            if job.status != "queued":
                return 0
            return list(self._waiting).index(job) + (self._running is not None) if job in self._waiting else 0

    def wait_turn(self, job: Job, timeout: float) -> bool:
        """True once the job holds the executor (it is then "running"); False on timeout or when stopped."""
        with self._cond:
            ok = self._cond.wait_for(lambda: job.stopped or (self._running is None and not self._paused
                                                               and self._waiting and self._waiting[0] is job),
                                     timeout)
            if not ok or job.stopped:
                return False
            self._waiting.popleft()
            self._running = job
            job.status = "running"
            return True

    # --- the queue as a whole (HTTP API: list, reorder, pause, resume) ---------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """A paused board lets the running job finish but hands the executor to nobody else."""
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def running(self) -> Job | None:
        return self._running

    def running_all(self) -> list[Job]:
        """Every running job: the one holding the executor and those handed off to other workers."""
        with self._cond:
            return ([self._running] if self._running else []) + list(self._elsewhere)

    def hand_off(self, job: Job) -> None:
        """The running job goes on elsewhere (a Ray actor): it stays running (whoever runs it watches its
        `stopped` flag), and the executor is free for the next job."""
        with self._cond:
            if self._running is job:
                self._running = None
                self._elsewhere.append(job)
                self._cond.notify_all()

    def waiting(self) -> list[Job]:
        """The jobs waiting for the executor, next first."""
        with self._cond:
            return list(self._waiting)

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def move(self, job_id: str, position: int) -> bool:
        """Put a waiting job at `position` (0 = next; past the end = last). False if it is not waiting."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job not in self._waiting:
                return False
            self._waiting.remove(job)
            self._waiting.insert(max(0, min(position, len(self._waiting))), job)
            self._cond.notify_all()
            return True

    def stop(self, owner: str | None) -> list[str]:
        """Stop every job of this owner, waiting or running; the ids stopped. No owner stops nothing."""
        if not owner:
            return []
        with self._cond:
            mine = [j for j in self._jobs.values() if j.owner == owner and j.status != "ended"]
            for job in mine:
                job.stop_requested.set()
                if job is self._running:
                    self._interrupt()
            self._cond.notify_all()
            return [j.id for j in mine]

    def stop_job(self, job: Job) -> None:
        """Stop one job (its own client went away)."""
        with self._cond:
            if job.status == "ended":
                return
            job.stop_requested.set()
            if job is self._running:
                self._interrupt()
            self._cond.notify_all()

    def finish(self, job: Job) -> None:
        """The job is over (ran, failed, stopped or cancelled); the next one may have the executor."""
        with self._cond:
            job.status = "ended"
            if self._running is job:
                self._running = None
            if job in self._elsewhere:
                self._elsewhere.remove(job)
            try:
                self._waiting.remove(job)
            except ValueError:
                pass
            self._jobs.pop(job.id, None)
            self._cond.notify_all()


_boards: "weakref.WeakKeyDictionary[object, RunBoard]" = weakref.WeakKeyDictionary()
_boards_lock = threading.Lock()


def board_for(executor) -> RunBoard:
    """The one board of an executor, so the canvas and the HTTP API of a server share one queue."""
    with _boards_lock:
        board = _boards.get(executor)
        if board is None:
            board = _boards[executor] = RunBoard(executor.interrupt)
        return board
