"""Events of a run, sent to whoever subscribed (CLI progress bar, canvas, tests).

Every event is a plain dict with a ``type`` and the ``run_id``; node events carry ``node`` (the id)
and ``node_type``. Types: run_started, node_cached, node_started, node_progress, node_finished,
node_failed, run_finished, run_interrupted.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

Listener = Callable[[dict], None]

RUN_STARTED = "run_started"
NODE_CACHED = "node_cached"
NODE_STARTED = "node_started"
NODE_PROGRESS = "node_progress"
NODE_FINISHED = "node_finished"
NODE_FAILED = "node_failed"
RUN_FINISHED = "run_finished"
RUN_INTERRUPTED = "run_interrupted"


class EventHub:
    """Fan events out to listeners; a listener that raises is dropped from that event, never the run."""

    def __init__(self):
        self._listeners: tuple[Listener, ...] = ()  # replaced, never mutated, so emit needs no lock
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners = self._listeners + (listener,)

        def unsubscribe():
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)
        return unsubscribe

    def emit(self, event: dict, extra: Listener | None = None) -> None:
        targets = self._listeners
        if extra is not None:
            targets = targets + (extra,)
        for listener in targets:
            try:
                listener(event)
            except Exception:  # a broken progress display must not break generation
                pass


def event(kind: str, run_id: str, **data: Any) -> dict:
    return {"type": kind, "run_id": run_id, **data}
