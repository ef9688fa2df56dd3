"""Check a parsed workflow against the node classes: types, links, widget values, cycles.

Every problem is collected (with node id, input name and a sentence) before anything runs; a document
with problems never runs partially. The result of a clean check, `CheckedGraph`, is what the executor plans from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .node import MissingModelError, Node
from .registry import Registry
from .types import why_not
from .workflow import Link, Problem, Workflow, WorkflowError


@dataclass
class CheckedGraph:
    workflow: Workflow
    classes: dict[str, type[Node]]  # node id -> class
    values: dict[str, dict[str, Any]]  # node id -> widget values (coerced, defaults filled in)
    links: dict[str, dict[str, Link]]  # node id -> input name -> link feeding it
    order: list[str]  # every node, dependencies first
    volatile: list[tuple[str, Any]] = field(default_factory=list)  # (node id, widget) whose choices can change


def recheck_volatile(graph: CheckedGraph, env: Any = None) -> None:
    """Re-check the widgets whose allowed values depend on the outside world (e.g. files in a models folder)."""
    problems = []
    for nid, widget in graph.volatile:
        try:
            widget.coerce(graph.values[nid][widget.name], env)
        except MissingModelError as e:
            hint = _download_hint(graph.workflow.nodes[nid].properties, e)
            problems.append(Problem(str(e) + hint, node=nid, input=widget.name, code="missing_model"))
        except ValueError as e:
            problems.append(Problem(str(e), node=nid, input=widget.name, code="bad_value"))
    if problems:
        raise WorkflowError(problems)


def check(workflow: Workflow, registry: Registry, env: Any = None) -> CheckedGraph:
    """Validate and return the checked graph, or raise WorkflowError listing every problem."""
    from .subgraphs import expand_for_check

    workflow = expand_for_check(workflow, registry, env)  # subgraph instances -> plain nodes with path ids
    problems: list[Problem] = []
    classes: dict[str, type[Node]] = {}
    values: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, Link]] = {nid: {} for nid in workflow.nodes}
    for link in workflow.links:
        links[link.target][link.input] = link

    for nid, spec in workflow.nodes.items():
        cls = registry.get(spec.type)
        if cls is None:
            hint = ""
            if registry.failures:
                hint = f" (node packs that failed to load: {', '.join(sorted(registry.failures))})"
            problems.append(Problem(f"unknown node type {spec.type!r}; is the node pack that provides it "
                                    f"installed?{hint}", node=nid, code="unknown_type"))
            continue
        classes[nid] = cls
        widgets = _migrated_widgets(nid, spec, cls, problems)
        if widgets is None:
            continue
        values[nid] = _check_inputs(nid, cls, widgets, links[nid], env, problems, spec.properties)

    for link in workflow.links:
        _check_link(link, workflow, classes, problems)

    failed = {p.node for p in problems}
    for nid, cls in classes.items():
        if cls.check.__func__ is Node.check.__func__:
            continue  # the class adds no checks of its own
        if nid in values and nid not in failed:
            try:
                extra = cls.check(env, **values[nid]) or []
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # a buggy check (even one calling sys.exit) must not end validation
                extra = [f"its own check failed: {type(e).__name__}: {e}"]
            for msg in extra:  # a sentence, or (input name, sentence) to point at the input
                name, msg = msg if isinstance(msg, tuple) and len(msg) == 2 else (None, msg)
                problems.append(Problem(str(msg), node=nid, input=name, code="check_failed"))

    order, cycle = _topological_order(workflow)
    if cycle:
        problems.append(Problem("the links form a cycle through nodes " + " -> ".join(repr(n) for n in cycle),
                                node=cycle[0], code="cycle"))
    if problems:
        raise WorkflowError(problems)
    volatile = [(nid, w) for nid, cls in classes.items() for w in cls.widgets()
                if callable(getattr(w, "choices", None)) and w.name in values.get(nid, {})]
    return CheckedGraph(workflow=workflow, classes=classes, values=values, links=links, order=order,
                        volatile=volatile)


def _migrated_widgets(nid, spec, cls, problems) -> dict | None:
    saved = spec.version if spec.version is not None else cls.version
    if saved > cls.version:
        problems.append(Problem(f"was saved by version {saved} of {cls.type_name}, newer than the installed "
                                f"version {cls.version}; update the node pack {cls.pack!r}", node=nid,
                                code="newer_node"))
        return None
    widgets = dict(spec.widgets)
    if saved < cls.version:
        try:
            widgets = dict(cls.migrate(saved, widgets))
        except Exception as e:
            problems.append(Problem(f"cannot upgrade its settings from version {saved} to {cls.version}: {e}",
                                    node=nid, code="migration_failed"))
            return None
    return widgets


def _check_inputs(nid, cls, widgets, node_links, env, problems, properties) -> dict:
    values: dict[str, Any] = {}
    declared = {i.name for i in cls.inputs}
    for name in widgets:
        if name not in declared:
            problems.append(Problem(f"{cls.type_name} has no input named {name!r}", node=nid, input=name,
                                    code="unknown_input"))
    for inp in cls.inputs:
        if inp.name in node_links:
            continue
        if not inp.is_widget:
            if not inp.optional:
                problems.append(Problem(f"is not connected; it needs a {inp.type} input", node=nid,
                                        input=inp.name, code="missing_input"))
            continue
        value = widgets.get(inp.name)
        if value is None:
            value = inp.default
        if value is None:
            if not inp.optional:
                problems.append(Problem("needs a value", node=nid, input=inp.name, code="missing_value"))
            continue
        try:
            values[inp.name] = inp.coerce(value, env)
        except MissingModelError as e:
            problems.append(Problem(str(e) + _download_hint(properties, e), node=nid, input=inp.name,
                                    code="missing_model"))
        except ValueError as e:
            problems.append(Problem(str(e), node=nid, input=inp.name, code="bad_value"))
        except Exception as e:  # e.g. a choices callable that failed
            problems.append(Problem(f"cannot be checked: {type(e).__name__}: {e}", node=nid, input=inp.name,
                                    code="bad_value"))
    return values


def _download_hint(properties: dict, error: MissingModelError) -> str:
    """Where the document says the missing file can be downloaded (``properties.models``)."""
    models = properties.get("models") if isinstance(properties, dict) else None
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, dict) and entry.get("name") == error.name and isinstance(entry.get("url"), str):
            return f"; download it from {entry['url']} into the {error.folder}/ folder"
    return ""


def _check_link(link: Link, workflow: Workflow, classes, problems) -> None:
    src_cls, dst_cls = classes.get(link.source), classes.get(link.target)
    if src_cls is None or dst_cls is None:
        return  # unknown type already reported
    out = src_cls.output(link.output)
    inp = dst_cls.input(link.input)
    if out is None:
        names = ", ".join(o.name for o in src_cls.outputs) or "none"
        problems.append(Problem(f"is linked from output {link.output!r} of node {link.source!r}, but "
                                f"{src_cls.type_name} has no such output (it has: {names})",
                                node=link.target, input=link.input, code="missing_output"))
    if inp is None:
        names = ", ".join(i.name for i in dst_cls.inputs) or "none"
        problems.append(Problem(f"{dst_cls.type_name} has no input named {link.input!r} (it has: {names})",
                                node=link.target, input=link.input, code="unknown_input"))
    if out is not None and inp is not None:
        reason = why_not(out.type, inp.type)
        if reason:
            problems.append(Problem(f"is linked from {link.source!r}.{link.output}, but {reason}",
                                    node=link.target, input=link.input, code="type_mismatch"))


def _topological_order(workflow: Workflow) -> tuple[list[str], list[str] | None]:
    """Kahn's order over every node; when a cycle exists, also one cycle's node ids."""
    deps: dict[str, set[str]] = {nid: set() for nid in workflow.nodes}
    users: dict[str, list[str]] = {nid: [] for nid in workflow.nodes}
    for l in workflow.links:
        if l.target in deps and l.source in deps and l.source not in deps[l.target]:
            deps[l.target].add(l.source)
            users[l.source].append(l.target)
    remaining = {nid: len(d) for nid, d in deps.items()}
    ready = [nid for nid, n in remaining.items() if n == 0]
    order = []
    while ready:
        nid = ready.pop()
        order.append(nid)
        for u in users[nid]:
            remaining[u] -= 1
            if remaining[u] == 0:
                ready.append(u)
    if len(order) == len(deps):
        return order, None
    # walk back along unresolved dependencies until a node repeats
    stuck = {nid for nid, n in remaining.items() if n > 0}
    path, seen, nid = [], {}, next(iter(sorted(stuck)))
    while nid not in seen:
        seen[nid] = len(path)
        path.append(nid)
        nid = next(d for d in sorted(deps[nid]) if d in stuck)
    cycle = path[seen[nid]:]
    cycle.reverse()
    return order, cycle + [cycle[0]]
