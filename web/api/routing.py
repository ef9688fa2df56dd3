"""Which worker should run a job: one that already has the job's models loaded, else the least busy.

Loading a FLUX model costs far more than one image, so a job is worth a short wait for a worker that
holds its models. A job's models are named by its loader nodes: every node with a model-file widget,
with all of its widget values (file names and settings such as the weight dtype), so two jobs with the
same key can share a worker's loaded weights and two with different keys cannot.

Pure bookkeeping (no Ray here), so the policy is tested on its own.
"""
from __future__ import annotations

import json
import threading

from flux_core.graph.node import ModelFile

BACKLOG = 2  # jobs handed to one worker at once (one running, one next), so it never idles between jobs


def model_key(graph) -> str:
    """The loaders of a checked graph (`Executor.validate`) as one comparable string."""
    loaders = []
    for nid in graph.order:
        cls = graph.classes[nid]
        if any(isinstance(w, ModelFile) for w in cls.widgets()):
            loaders.append([cls.type_name, sorted((k, repr(v)) for k, v in graph.values[nid].items())])
    return json.dumps(sorted(loaders))


def loader_nodes(graph) -> list[str]:
    """The ids of the graph's loader nodes (those a worker runs only when it must load)."""
    return [nid for nid in graph.order if any(isinstance(w, ModelFile) for w in graph.classes[nid].widgets())]


class Router:
    """Jobs in flight and model sets held per worker slot; `choose` picks a slot for a job's key."""

    def __init__(self, slots: int, backlog: int = BACKLOG):
        self.backlog = backlog
        self.jobs = [0] * slots  # in flight per slot
        self.models: list[set[str]] = [set() for _ in range(slots)]
        self._lock = threading.Lock()

    def has_room(self) -> bool:
        with self._lock:
            return any(n < self.backlog for n in self.jobs)

    def choose(self, key: str | None) -> int | None:
        """Reserve a slot: one holding `key` with room (the least busy of them), else the least busy slot
        (ties: the one holding fewest model sets, so sets spread out). None when every slot is full."""
        with self._lock:
            open_slots = [i for i, n in enumerate(self.jobs) if n < self.backlog]
            if not open_slots:
                return None
            holders = [i for i in open_slots if key is not None and key in self.models[i]]
            slot = min(holders or open_slots, key=lambda i: (self.jobs[i], len(self.models[i]), i))
            self.jobs[slot] += 1
            if key is not None:
                self.models[slot].add(key)
            return slot

    def done(self, slot: int) -> None:
        with self._lock:
            self.jobs[slot] = max(0, self.jobs[slot] - 1)

    def forget(self, slot: int) -> None:
        """The slot's worker was replaced: it holds no models any more."""
        with self._lock:
            self.models[slot] = set()
