"""Runs execute on a worker thread, so a run can stop at once even when a node never reports progress.

The executor hands a whole run to its worker (one thread switch per run, not per node) and waits for the
run to end or for its stop flag. A Python thread cannot be killed: when a run is stopped while a node
computes, the executor stops waiting, the run ends "interrupted" within `POLL_SECONDS`, and the worker
is abandoned; the next run gets a fresh one. The abandoned thread finishes the node it is in, then sees
the stop flag and ends without caching that node's result or sending events. Until then it keeps what it
references (tensors, models) alive; model code shortens that by calling `context.stop_point()` between
blocks, and `NodeContext.progress` raises in it as well.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from .context import Interrupted, bind_stop_flag

POLL_SECONDS = 0.05  # how often the waiting executor looks at the stop flag
GRACE_SECONDS = 0.2  # how long a stopped call may take to notice the flag before it is abandoned


class NodeWorker:
    """One thread that runs the calls handed to it, one at a time."""

    def __init__(self, name: str = "fluxwire-node"):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.abandoned = False
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            if self.abandoned:
                return

    def call(self, fn: Callable[[], Any], stop: threading.Event) -> Any:
        """fn()'s value (or its exception) from the worker; `Interrupted` as soon as `stop` is set."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def job():
            bind_stop_flag(stop)
            try:
                box["value"] = fn()
            except BaseException as e:  # noqa: BLE001 - handed to the executor's thread as is
                box["error"] = e
            finally:
                bind_stop_flag(None)
                done.set()

        self._jobs.put(job)
        try:
            while not done.wait(POLL_SECONDS):
                if stop.is_set() and not done.wait(GRACE_SECONDS):  # code that looks at the flag ends itself
                    self.abandon()
                    raise Interrupted()
        except KeyboardInterrupt:  # Ctrl+C in the CLI: stop the node's run too, then let it propagate
            stop.set()
            self.abandon()
            raise
        if "error" in box:
            error = box.pop("error")
            raise error
        return box.pop("value")

    def abandon(self) -> None:
        """Stop using this worker: its current call's outcome is dropped and the thread ends after it."""
        self.abandoned = True
        self._jobs.put(None)

    close = abandon
