"""Bypassed and muted nodes (a node's `mode`): applied to a document before it is checked and run.

The semantics are ComfyUI's (the importer applies the same rules to ComfyUI files at import time,
`flux_core/interop/comfyui/ui.py`): a **bypassed** node is taken out and each of its outputs is fed by the
first input of the same type that has a link (the input at the same position first), so the node is
"passed through"; an output with no such input feeds nothing. A **muted** node is dropped, and so is,
repeatedly, every node all of whose consumers were dropped (what only fed it). Inputs left without a link
are then reported by the normal checks, naming the node and input, like any missing link.

Modes apply to the document's own nodes (including subgraph instances); inside subgraph definitions they
are refused with a clear problem until the canvas offers them there.
"""
from __future__ import annotations

from dataclasses import replace

from .types import ANY
from .workflow import Link, Problem, Workflow, WorkflowError

BYPASS, MUTE = "bypass", "mute"
MODES = (BYPASS, MUTE)


def _sockets(node, registry, wf: Workflow) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(inputs as [(name, type)] in declared order, outputs {name: type}); unknown nodes: types from links."""
    cls = registry.get(node.type) if registry is not None else None
    if cls is not None:
        return [(i.name, i.type) for i in cls.inputs], {o.name: o.type for o in cls.outputs}
    ref = node.subgraph
    definition = wf.subgraphs.get(getattr(ref, "id", None)) if ref is not None else None
    if definition is not None:
        return [(i.name, i.type) for i in definition.inputs], {o.name: o.type for o in definition.outputs}
    ins = [(l.input, ANY) for l in wf.links if l.target == node.id]
    return ins, {l.output: ANY for l in wf.links if l.source == node.id}


def _same_type(a: str, b: str) -> bool:
    return a == b or ANY in (a, b)


def apply_modes(wf: Workflow, registry=None) -> Workflow:
    """A copy of `wf` without its bypassed and muted nodes, links rewired as described above.

    Returns `wf` itself when no node has a mode (the usual case costs nothing)."""
    problems = [Problem(f"bypass/mute inside a subgraph definition is not supported yet (node {nid!r})",
                        node=f"{sid}/{nid}", code="unsupported_mode")
                for sid, d in wf.subgraphs.items() for nid, n in d.nodes.items() if getattr(n, "mode", None)]
    if problems:
        raise WorkflowError(problems, wf.metadata.get("title"))
    moded = {nid: n.mode for nid, n in wf.nodes.items() if n.mode}
    if not moded:
        return wf
    consumers: dict[str, set[str]] = {}
    for link in wf.links:
        consumers.setdefault(link.source, set()).add(link.target)
    gone = {nid for nid, m in moded.items() if m == MUTE}
    changed = True
    while changed:  # what only fed dropped nodes goes too
        changed = False
        for nid, targets in consumers.items():
            if nid not in gone and targets and targets <= gone:
                gone.add(nid)
                changed = True
    into = {(l.target, l.input): l for l in wf.links}

    def deliver(link: Link, seen: frozenset = frozenset()) -> tuple[str, str] | None:
        """The (node, output) that really feeds `link` once bypassed nodes are passed through."""
        source = wf.nodes.get(link.source)
        if source is None or link.source in gone or link.source in seen:
            return None
        if source.mode != BYPASS:
            return link.source, link.output
        inputs, outputs = _sockets(source, registry, wf)
        want = outputs.get(link.output, ANY)
        position = list(outputs).index(link.output) if link.output in outputs else -1
        order = ([inputs[position]] if 0 <= position < len(inputs) else []) + inputs
        for name, kind in order:
            feeding = into.get((source.id, name))
            if feeding is not None and _same_type(kind, want):
                return deliver(feeding, seen | {link.source})
        return None

    removed = gone | {nid for nid, m in moded.items() if m == BYPASS}
    links = []
    for link in wf.links:
        if link.target in removed:
            continue
        origin = deliver(link)
        if origin is not None:
            links.append(Link(origin[0], origin[1], link.target, link.input))
    nodes = {nid: n for nid, n in wf.nodes.items() if nid not in removed}
    return replace(wf, nodes=nodes, links=links)
