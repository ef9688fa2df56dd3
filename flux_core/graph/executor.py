"""Run a workflow: validate, plan only what the requested outputs need, then execute with the cache.

A node's signature is a hash of its type, version, fingerprint, widget values and the signatures (and
output names) of the nodes feeding it — never its id — so unchanged work is found in the cache however
the graph was renumbered or moved, and the cost of computing keys grows linearly with the graph.

Output nodes (SaveImage, PreviewImage, ShowValue: `output_node = True`) run on every run and their
results are never cached: what they write and show belongs to the run that asked for it, so two clients
sending the same graph never share a file or the document embedded in it. Their inputs come from the cache.

Runs execute on a `NodeWorker` thread: `interrupt()` ends the run within a fraction of a second even
when a node never reports progress (the abandoned node's result is dropped, see `worker`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import events as ev
from .cache import CacheEntry, ResultCache
from .context import Environment, Interrupted, NodeContext
from .node import Node, NodeError, run_node
from .library import Library
from .node_modes import apply_modes
from .registry import Registry, default_registry
from .subgraphs import expand as expand_subgraphs
from .validation import CheckedGraph, check, recheck_volatile
from .worker import POLL_SECONDS, NodeWorker
from .workflow import Problem, Workflow, WorkflowError, parse_document, read_document

MAX_ABANDONED = 2  # stopped runs whose node code may still be computing before a new run waits for them


@dataclass
class RunResult:
    run_id: str
    status: str = "success"  # success | error | interrupted
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    ui: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: dict | None = None

    def summary(self) -> dict:
        """JSON-able view (outputs as their UI data, values themselves are not serialisable)."""
        return {"run_id": self.run_id, "status": self.status, "executed": self.executed, "cached": self.cached,
                "outputs": self.ui, "timings": self.timings, "error": self.error}


class RunFailed(RuntimeError):
    """A node raised; `result` holds what finished before it (those results stay cached)."""

    def __init__(self, node_id: str, node_type: str, message: str, result: RunResult, input: str | None = None):
        where = f"node {node_id!r} ({node_type})" + (f", input {input!r}" if input else "")
        super().__init__(f"{where} failed: {message}")
        self.node_id, self.node_type, self.message, self.input, self.result = node_id, node_type, message, input, result


class RunInterrupted(RuntimeError):
    def __init__(self, node_id: str | None, result: RunResult):
        super().__init__("the run was interrupted" + (f" at node {node_id!r}" if node_id else ""))
        self.node_id, self.result = node_id, result


def as_workflow(source: Any) -> Workflow:
    """Accept a Workflow, a decoded document (dict), or a path to a .json/.png file."""
    if isinstance(source, Workflow):
        return source
    if isinstance(source, dict):
        return parse_document(source)
    if isinstance(source, (str, Path)):
        return read_document(source)
    raise WorkflowError([Problem(f"cannot read a workflow from {type(source).__name__}", code="bad_source")])


class Executor:
    """Runs workflows; keeps its cache across runs. One run at a time; `interrupt()` from any thread."""

    def __init__(self, registry: Registry | None = None, *, models_dir=None, output_dir="output",
                 input_dir="input", device: str | None = None, cache_bytes: int | None = None,
                 nodes_dir=None, library_dir=None, vram_budget=None, ram_budget=None, memory=None):
        self.registry = registry if registry is not None else default_registry(nodes_dir)
        self.env = Environment(models_dir=models_dir, output_dir=Path(output_dir), input_dir=Path(input_dir),
                               device=device, library_dir=library_dir, vram_budget=vram_budget,
                               ram_budget=ram_budget, memory=memory)
        if device:
            from ..device import set_device

            set_device(device)
        self.cache = ResultCache(cache_bytes)
        self.events = ev.EventHub()
        self._stop: threading.Event | None = None  # the running run's stop flag (a new one per run)
        self._worker: NodeWorker | None = None
        self.abandoned_workers: list[NodeWorker] = []  # still computing for an interrupted run
        self._run_lock = threading.Lock()
        self._last_checked: tuple[bytes, CheckedGraph] | None = None

    # --- public API ---------------------------------------------------------------------------
    def sibling(self) -> "Executor":
        """A second executor sharing this one's registry, environment and result cache but with its own
        run lock and worker: a node that runs part of its own graph again (XYGrid) uses one, since the
        run it is inside holds this executor's lock. Loaded models and unchanged nodes come from the cache."""
        other = Executor.__new__(Executor)
        other.registry, other.env, other.cache = self.registry, self.env, self.cache
        other.events = ev.EventHub()
        other._stop, other._worker, other.abandoned_workers = None, None, []
        other._run_lock = threading.Lock()
        other._last_checked = None
        return other

    def subscribe(self, listener) -> Any:
        """Call `listener(event_dict)` for every event of every run; returns an unsubscribe function."""
        return self.events.subscribe(listener)

    def interrupt(self) -> None:
        """Stop the current run now: `run` raises RunInterrupted within a fraction of a second, even while
        a node is computing without reporting progress. Does nothing when no run is going on."""
        stop = self._stop
        if stop is not None:
            stop.set()

    def _wait_for_abandoned(self, stop: threading.Event) -> None:
        """Hold a new run while MAX_ABANDONED stopped runs' nodes still compute (each holds a core and
        memory), so stopping and restarting cannot pile up threads; the wait itself can be stopped."""
        while True:
            self.abandoned_workers = [w for w in self.abandoned_workers if w.thread.is_alive()]
            if len(self.abandoned_workers) < MAX_ABANDONED:
                return
            if stop.wait(POLL_SECONDS):
                raise Interrupted()

    def validate(self, workflow: Any, overrides: dict | None = None) -> CheckedGraph:
        """Check a document (with overrides applied); raise WorkflowError listing every problem.

        The last document checked is remembered by a hash of its content, so re-running an unchanged
        document (what the canvas does all the time) skips parsing and checking; widgets whose allowed
        values depend on files are checked again anyway.
        """
        key = self._memo_key(workflow, overrides)
        if key is not None and self._last_checked is not None and self._last_checked[0] == key and (
                self._last_checked[1].workflow.expansion is None
                or self._last_checked[1].workflow.expansion.files_unchanged()):
            graph = self._last_checked[1]
            recheck_volatile(graph, self.env)
            return graph
        wf = apply_modes(as_workflow(workflow), self.registry)  # bypassed / muted nodes (node_modes.py)
        wf, overrides = expand_subgraphs(wf, self.registry, Library(self.env.library_dir), overrides)
        if overrides:
            wf = self._apply_overrides(wf, overrides)
        graph = check(wf, self.registry, self.env)
        if key is not None:
            self._last_checked = (key, graph)
        return graph

    def _memo_key(self, workflow: Any, overrides: dict | None) -> bytes | None:
        if not isinstance(workflow, dict):
            return None
        try:
            text = json.dumps([workflow, overrides or {}, len(self.registry.nodes)])
        except (TypeError, ValueError, RecursionError):
            return None
        return hashlib.blake2b(text.encode(), digest_size=20).digest()

    def run(self, workflow: Any, overrides: dict | None = None, outputs: Iterable[str] | None = None,
            listener=None, run_id: str | None = None) -> RunResult:
        """Validate then run. Raises WorkflowError (nothing ran), RunFailed or RunInterrupted."""
        graph = self.validate(workflow, overrides)
        targets = self._targets(graph, outputs)
        run_id = run_id or uuid.uuid4().hex[:12]
        with self._run_lock:
            stop = self._stop = threading.Event()
            live = _LiveRun(RunResult(run_id=run_id))
            try:
                self._wait_for_abandoned(stop)
                if self._worker is None or self._worker.abandoned:  # (abandoned by Ctrl+C, say)
                    self._worker = NodeWorker()
                worker = self._worker
                return worker.call(
                    lambda: self._execute(graph, targets, listener, run_id, overrides or {}, stop, live), stop)
            except Interrupted:  # the worker is still inside a node: give up on it and end the run now
                if self._worker is not None and self._worker.abandoned:
                    self.abandoned_workers.append(self._worker)
                    self._worker = None
                live.abandoned = True
                live.result.status = "interrupted"
                self.events.emit(ev.event(ev.RUN_INTERRUPTED, run_id, node=live.current,
                                          executed=list(live.result.executed)), listener)
                raise RunInterrupted(live.current, live.result) from None
            finally:
                self._stop = None

    # --- planning -----------------------------------------------------------------------------
    def _apply_overrides(self, original: Workflow, overrides: dict) -> Workflow:
        """A copy of the workflow with the overridden widgets changed (the original is left alone)."""
        wf = dataclasses.replace(original, nodes=dict(original.nodes))
        problems = []
        for key, value in overrides.items():
            node_id, dot, name = str(key).rpartition(".")
            if not dot or not node_id or not name:
                problems.append(Problem(f"override {key!r} must look like NODE_ID.INPUT", code="bad_override"))
                continue
            spec = wf.nodes.get(node_id)
            if spec is None:
                problems.append(Problem(f"override {key!r} names node {node_id!r}, which is not in the workflow",
                                        node=node_id, input=name, code="bad_override"))
                continue
            cls = self.registry.get(spec.type)
            inp = cls.input(name) if cls else None
            if cls is not None and (inp is None or not inp.is_widget):
                problems.append(Problem(f"{spec.type} has no widget named {name!r} to override", node=node_id,
                                        input=name, code="bad_override"))
                continue
            if isinstance(value, str) and inp is not None and inp.type != "STRING":
                try:
                    value = inp.parse_text(value)
                except ValueError as e:
                    problems.append(Problem(str(e), node=node_id, input=name, code="bad_value"))
                    continue
            if wf.nodes[node_id] is original.nodes[node_id]:
                spec = wf.nodes[node_id] = dataclasses.replace(spec, widgets=dict(spec.widgets))
            spec.widgets[name] = value
        if problems:
            raise WorkflowError(problems)
        return wf

    def _targets(self, graph: CheckedGraph, outputs) -> list[str]:
        if outputs is None:
            targets = [nid for nid in graph.order if graph.classes[nid].output_node]
            if not targets:
                raise WorkflowError([Problem("the workflow has no output node (e.g. SaveImage) to run",
                                             code="no_outputs")])
            return targets
        targets = []
        for t in outputs:  # a subgraph instance stands for the nodes inside it
            inner = [] if t in graph.classes else [n for n in graph.order if n.startswith(f"{t}/")]
            targets += inner or [t]
        missing = [t for t in targets if t not in graph.classes]
        if missing or not targets:
            raise WorkflowError([Problem(f"requested output node {t!r} is not in the workflow", node=t,
                                         code="bad_target") for t in missing]
                                or [Problem("the list of outputs to run is empty", code="bad_target")])
        return targets

    @staticmethod
    def _needed(graph: CheckedGraph, targets: list[str]) -> list[str]:
        needed, stack = set(), list(targets)
        while stack:
            nid = stack.pop()
            if nid in needed:
                continue
            needed.add(nid)
            stack.extend(l.source for l in graph.links[nid].values())
        return [nid for nid in graph.order if nid in needed]

    def signatures(self, graph: CheckedGraph, order: list[str]) -> dict[str, str]:
        """Merkle-style keys: each node hashes its own settings with its sources' keys (linear time)."""
        sigs: dict[str, str] = {}
        for nid in order:
            cls = graph.classes[nid]
            values = graph.values[nid]
            fp = None
            if cls.fingerprint.__func__ is not Node.fingerprint.__func__:
                try:
                    fp = cls.fingerprint(self.env, **values)
                except KeyboardInterrupt:
                    raise
                except BaseException as e:  # an unreadable file, even sys.exit(): never reuse; the node reports it
                    fp = ("fingerprint failed", type(e).__name__, str(e), uuid.uuid4().hex)
            parts = (cls.type_name, cls.version, repr(fp), sorted(values.items()),
                     sorted((name, sigs[l.source], l.output) for name, l in graph.links[nid].items()))
            sigs[nid] = hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()
        return sigs

    # --- running ------------------------------------------------------------------------------
    def _execute(self, graph: CheckedGraph, targets: list[str], listener, run_id: str, overrides: dict,
                 stop: threading.Event, live: "_LiveRun") -> RunResult:
        order = self._needed(graph, targets)
        sigs = self.signatures(graph, order)
        result = live.result

        def emit(kind, **data):
            if not live.abandoned:  # an abandoned run has already told its listeners that it ended
                self.events.emit(ev.event(kind, run_id, **data), listener)
        consumers: dict[str, int] = {nid: 0 for nid in order}
        for nid in order:
            for l in graph.links[nid].values():
                consumers[l.source] += 1
        pinned: set[str] = set()
        # the executor too: a node that runs part of the graph again (XYGrid) borrows its registry and cache
        run_info = {"run_id": run_id, "workflow": graph.workflow, "overrides": overrides, "executor": self}
        emit(ev.RUN_STARTED, nodes=order, targets=targets)
        current = None
        try:
            for nid in order:
                current = live.current = nid
                cls = graph.classes[nid]
                if stop.is_set():
                    raise Interrupted()
                entry = None if cls.output_node else self.cache.get(sigs[nid])
                if entry is not None:
                    result.cached.append(nid)
                    emit(ev.NODE_CACHED, node=nid, node_type=cls.type_name, ui=entry.ui)
                else:
                    inputs = dict(graph.values[nid])
                    for name, l in graph.links[nid].items():
                        inputs[name] = result.outputs[l.source][l.output]
                    ctx = NodeContext(node_id=nid, node_type=cls.type_name, env=self.env, run_info=run_info,
                                      _interrupt=stop,
                                      _report=lambda v, m, p, nid=nid, t=cls.type_name: emit(
                                          ev.NODE_PROGRESS, node=nid, node_type=t, value=v, max=m, preview=p))
                    emit(ev.NODE_STARTED, node=nid, node_type=cls.type_name)
                    start = time.perf_counter()
                    values = run_node(cls, ctx, inputs)  # checks outputs; sys.exit() is a node failure
                    seconds = time.perf_counter() - start
                    if stop.is_set():  # stopped while computing: the result of an abandoned node is dropped
                        raise Interrupted()
                    if cls.output_node:  # belongs to this run only (see the module notes)
                        entry = CacheEntry(outputs=values, ui=dict(ctx.ui), nbytes=0)
                    else:
                        entry = self.cache.put(sigs[nid], values, dict(ctx.ui))
                    result.executed.append(nid)
                    result.timings[nid] = seconds
                    emit(ev.NODE_FINISHED, node=nid, node_type=cls.type_name, seconds=seconds, ui=entry.ui)
                result.outputs[nid] = entry.outputs
                if entry.ui:
                    result.ui[nid] = entry.ui
                if consumers[nid] and not cls.output_node:
                    self.cache.pin(sigs[nid])
                    pinned.add(nid)
                for l in graph.links[nid].values():
                    consumers[l.source] -= 1
                    if consumers[l.source] == 0 and l.source in pinned:
                        pinned.discard(l.source)
                        self.cache.unpin(sigs[l.source])
        except Interrupted:
            result.status = "interrupted"
            emit(ev.RUN_INTERRUPTED, node=current, executed=list(result.executed))
            raise RunInterrupted(current, result) from None
        except Exception as e:
            cls = graph.classes[current]
            message = str(e) or type(e).__name__
            bad_input = e.input if isinstance(e, NodeError) else None
            result.status = "error"
            result.error = {"node": current, "node_type": cls.type_name, "input": bad_input, "message": message,
                            "error_type": f"{type(e).__module__}.{type(e).__name__}",
                            "traceback": traceback.format_exception(type(e), e, e.__traceback__)[-8:]}
            emit(ev.NODE_FAILED, **{k: v for k, v in result.error.items() if k != "node_type"},
                 node_type=cls.type_name)
            emit(ev.RUN_FINISHED, status="error", executed=list(result.executed), cached=list(result.cached))
            raise RunFailed(current, cls.type_name, message, result, bad_input) from e
        finally:
            for nid in pinned:
                self.cache.unpin(sigs[nid])
        emit(ev.RUN_FINISHED, status="success", executed=list(result.executed), cached=list(result.cached),
             timings=dict(result.timings))
        return result


@dataclass
class _LiveRun:
    """What the waiting caller needs to know about a run its worker is executing."""

    result: RunResult
    current: str | None = None
    abandoned: bool = False
