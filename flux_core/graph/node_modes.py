"""Bypassed and muted nodes (a node's `mode`): applied to a document before it is checked and run.

The semantics are ComfyUI's (the importer applies the same rules to ComfyUI files at import time,
`flux_core/interop/comfyui/ui.py`): a **bypassed** node is taken out and each of its outputs is fed by the
first input of the same type that has a link (the input at the same position first), so the node is
"passed through"; an output with no such input feeds nothing. A **muted** node is dropped, and so is,
repeatedly, every node all of whose consumers were dropped (what only fed it). Inputs left without a link
are then reported by the normal checks, naming the node and input, like any missing link.

The same rules hold at every level: the document's own nodes here (`apply_modes`), and the inside of every
subgraph definition when an instance of it is expanded (`apply_level_modes`, called by
`flux_core/graph/subgraphs.py`, so embedded, file and library definitions all behave alike). Inside a definition
the boundary `@inputs` is a source like any node and is never dropped; a muted node that fed `@outputs`
leaves that subgraph output unfed.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from .subgraph_document import INPUTS_NODE
from .types import ANY
from .workflow import Link, Workflow

BYPASS, MUTE = "bypass", "mute"
MODES = (BYPASS, MUTE)

Sockets = Callable[[object], "tuple[list[tuple[str, str]], dict[str, str]]"]


def _sockets_from(registry, definitions: dict, links: list[Link]) -> Sockets:
    """node -> (inputs as [(name, type)] in declared order, outputs {name: type}); unknown nodes: from links."""
    def sockets(node):
        cls = registry.get(node.type) if registry is not None else None
        if cls is not None:
            return [(i.name, i.type) for i in cls.inputs], {o.name: o.type for o in cls.outputs}
        ref = node.subgraph
        definition = definitions.get(getattr(ref, "id", None)) if ref is not None else None
        if definition is not None:
            return [(i.name, i.type) for i in definition.inputs], {o.name: o.type for o in definition.outputs}
        ins = [(l.input, ANY) for l in links if l.target == node.id]
        return ins, {l.output: ANY for l in links if l.source == node.id}
    return sockets


def _same_type(a: str, b: str) -> bool:
    return a == b or ANY in (a, b)


def apply_modes(wf: Workflow, registry=None) -> Workflow:
    """A copy of `wf` without its own bypassed and muted nodes, links rewired as described above.

    Returns `wf` itself when no node has a mode (the usual case costs nothing). Modes inside subgraph
    definitions are applied when instances are expanded (`apply_level_modes`)."""
    if not any(n.mode for n in wf.nodes.values()):
        return wf
    nodes, links = apply_level_modes(wf.nodes, wf.links, _sockets_from(registry, wf.subgraphs, wf.links))
    return replace(wf, nodes=nodes, links=links)


def apply_level_modes(nodes: dict, links: list[Link], sockets: Sockets, boundary: frozenset = frozenset()
                      ) -> tuple[dict, list[Link]]:
    """(nodes, links) of one level without its bypassed and muted nodes; the same objects when none has one.

    `boundary`: ids that are sources without being in `nodes` (a definition's `@inputs`); they pass as is."""
    moded = {nid: n.mode for nid, n in nodes.items() if n.mode}
    if not moded:
        return nodes, links
    consumers: dict[str, set[str]] = {}
    for link in links:
        consumers.setdefault(link.source, set()).add(link.target)
    gone = {nid for nid, m in moded.items() if m == MUTE}
    changed = True
    while changed:  # what only fed dropped nodes goes too (the boundary stays)
        changed = False
        for nid, targets in consumers.items():
            if nid not in gone and nid not in boundary and targets and targets <= gone:
                gone.add(nid)
                changed = True
    into = {(l.target, l.input): l for l in links}

    def deliver(link: Link, seen: frozenset = frozenset()) -> tuple[str, str] | None:
        """The (node, output) that really feeds `link` once bypassed nodes are passed through."""
        if link.source in boundary:
            return link.source, link.output
        source = nodes.get(link.source)
        if source is None or link.source in gone or link.source in seen:
            return None
        if source.mode != BYPASS:
            return link.source, link.output
        inputs, outputs = sockets(source)
        want = outputs.get(link.output, ANY)
        position = list(outputs).index(link.output) if link.output in outputs else -1
        order = ([inputs[position]] if 0 <= position < len(inputs) else []) + inputs
        for name, kind in order:
            feeding = into.get((source.id, name))
            if feeding is not None and _same_type(kind, want):
                return deliver(feeding, seen | {link.source})
        return None

    removed = gone | {nid for nid, m in moded.items() if m == BYPASS}
    kept = []
    for link in links:
        if link.target in removed:
            continue
        origin = deliver(link)
        if origin is not None:
            kept.append(Link(origin[0], origin[1], link.target, link.input))
    return {nid: n for nid, n in nodes.items() if nid not in removed}, kept


def definition_modes(definition, registry, definitions: dict) -> tuple[dict, list[Link]]:
    """(nodes, links) of a subgraph definition's inside with its modes applied."""
    return apply_level_modes(definition.nodes, definition.links,
                             _sockets_from(registry, definitions, definition.links), frozenset({INPUTS_NODE}))
