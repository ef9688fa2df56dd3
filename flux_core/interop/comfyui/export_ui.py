"""A fluxwire document written as a ComfyUI UI workflow (schema 0.4, what ComfyUI's "Save" writes), through
the same table read backwards as the API export.

Unlike an API prompt, a UI workflow keeps what the canvas shows: node modes (mute 2, bypass 4) are written
as they are, not applied; notes stay; positions, sizes, titles, colours, collapsed and pinned flags, groups
and reroute points (as ComfyUI's native reroutes: ``extra.reroutes`` with ``parentId`` chains and
``extra.linkExtensions`` naming each link's last reroute) carry over. Node ids that are numbers stay the
same; other ids get the next free numbers (ComfyUI's ids are integers). Embedded subgraph definitions are
written as ``definitions.subgraphs`` (boundary nodes -10 / -20, links as objects naming their last reroute
in ``parentId``, the definition's reroutes in its own ``reroutes``, schema 1), their instances with their
widget inputs as ComfyUI's promoted widgets (``proxyWidgets`` ``["-1", name]``). Widgets shown as sockets
(``ui.widget_inputs``) get widget input entries.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from ...graph.workflow import Problem, Workflow, WorkflowError
from .graph import INPUTS, OUTPUTS
from .export import widget_values
from .table import BY_CLASS, CONTROL, Twin, export_twin

MODE_NUMBERS = {"mute": 2, "bypass": 4}
# fluxwire socket types with another name in ComfyUI
COMFY_TYPES = {"TEXT_ENCODER": "CLIP"}
# what ComfyUI saves for widgets fluxwire has no use for (the twin's `ignore`)
IGNORED_VALUES = {"device": "default", "upload": "image", "temporal_size": 64, "temporal_overlap": 8}
DEFAULT_SIZE = [320, 120]


def _comfy_type(kind: str | None) -> str:
    return COMFY_TYPES.get(kind or "*", kind or "*")


def _twin_for(spec) -> Twin | None:
    if spec.type == "Note" and spec.widgets.get("format") == "markdown":
        return BY_CLASS["MarkdownNote"]
    return export_twin(spec.type)


def _node_ids(nodes: dict) -> dict[str, int]:
    """fluxwire id -> ComfyUI id: numbers kept, the others numbered after the largest."""
    ids: dict[str, int] = {}
    for nid in nodes:
        if nid.isdigit() and int(nid) > 0 and int(nid) not in ids.values():
            ids[nid] = int(nid)
    next_id = max(ids.values(), default=0) + 1
    for nid in nodes:
        if nid not in ids:
            ids[nid] = next_id
            next_id += 1
    return ids


class _Instance:
    """What a subgraph instance looks like to ComfyUI: its definition's sockets, no twin."""

    def __init__(self, definition, sid: str):
        self.definition, self.sid = definition, sid
        self.outputs = tuple(o.name for o in definition.outputs)


class _Writer:
    """One graph (the document's, or a subgraph definition's inside) written as ComfyUI nodes and links."""

    def __init__(self, nodes: dict, links: list, registry, definitions: dict, problems: list[Problem],
                 boundary=None, where: str = ""):
        self.nodes, self.wf_links = nodes, links
        self.registry = registry
        self.definitions = definitions
        self.problems = problems
        self.boundary = boundary  # the SubgraphDef whose inside this is
        self.where = where  # prefix of node ids in messages ("subgraph id/")
        self.ids = _node_ids(nodes)
        self.twins: dict[str, Any] = {}
        for nid, spec in nodes.items():
            if spec.type == "Subgraph" or spec.subgraph is not None:
                sid = getattr(spec.subgraph, "id", None)
                if sid not in definitions:
                    self.problems.append(Problem("only subgraphs embedded in the document can be written to ComfyUI's "
                                                 "UI format (this one is a file or library reference)",
                                                 node=where + nid, code="no_comfyui_twin"))
                    continue
                self.twins[nid] = _Instance(definitions[sid], sid)
                continue
            twin = _twin_for(spec)
            if twin is None:
                self.problems.append(Problem(f"{spec.type} has no ComfyUI twin", node=where + nid,
                                             code="no_comfyui_twin"))
                continue
            self.twins[nid] = twin

    def socket_type(self, spec, name: str, output: bool = False) -> str:
        cls = self.registry.get(spec.type)
        sockets = (cls.outputs if output else cls.inputs) if cls is not None else []
        return _comfy_type(next((s.type for s in sockets if s.name == name), None))

    def sockets(self, nid: str) -> tuple[list[dict], list[dict]]:
        """(inputs, outputs) of a node as ComfyUI lists them, before links are filled in."""
        spec, twin = self.nodes[nid], self.twins[nid]
        if isinstance(twin, _Instance):
            inputs = []
            for i in twin.definition.inputs:
                entry = {"name": i.name, "type": _comfy_type(i.type), "link": None}
                if i.widget is not None:
                    entry["widget"] = {"name": i.name}
                inputs.append(entry)
            outputs = [{"name": o.name, "type": _comfy_type(o.type), "links": [], "slot_index": k}
                       for k, o in enumerate(twin.definition.outputs)]
            return inputs, outputs
        inputs = [{"name": name, "type": self.socket_type(spec, twin.fluxwire_input(name)), "link": None}
                  for name in twin.sockets]
        outputs = [{"name": self.socket_type(spec, o, True) if o else "*",
                    "type": self.socket_type(spec, o, True) if o else "*", "links": [], "slot_index": k}
                   for k, o in enumerate(twin.outputs)]
        return inputs, outputs

    def target_socket(self, nid: str, ours: str) -> dict | None:
        """The ComfyUI input of node ``nid`` that fluxwire input ``ours`` is (added when a widget gets a link)."""
        twin, inputs = self.twins[nid], self.inputs[nid]
        if isinstance(twin, _Instance):
            return next((x for x in inputs if x["name"] == ours), None)
        name = next((c for c in twin.comfy_inputs if twin.fluxwire_input(c) == ours), None)
        if name is None:
            return None
        socket = next((x for x in inputs if x["name"] == name), None)
        if socket is None:  # a widget fed by a link: ComfyUI's widget input
            socket = {"name": name, "type": self.socket_type(self.nodes[nid], ours), "widget": {"name": name},
                      "link": None}
            inputs.append(socket)
        return socket

    def links(self) -> list[list]:
        """ComfyUI links [id, origin, slot, target, target slot, type]; boundary ends are -10 / -20."""
        out: list[list] = []
        self.inputs: dict[str, list[dict]] = {}
        self.outputs: dict[str, list[dict]] = {}
        self.link_ids: dict[tuple[str, str], int] = {}
        self.boundary_links: dict[tuple[str, str], list[int]] = {}  # ("in"/"out", socket name) -> link ids
        for nid in self.twins:
            self.inputs[nid], self.outputs[nid] = self.sockets(nid)
        b = self.boundary
        for link in self.wf_links:
            if link.source == INPUTS and b is not None:
                names = [i.name for i in b.inputs]
                origin, slot = -10, names.index(link.output) if link.output in names else -1
                kind = _comfy_type(b.inputs[slot].type) if slot >= 0 else "*"
            elif link.source in self.twins:
                source = self.twins[link.source]
                if link.output not in source.outputs:
                    self.problems.append(Problem(f"output {link.output!r} of node {link.source!r} has no ComfyUI "
                                                 "slot", node=self.where + link.target, input=link.input,
                                                 code="no_comfyui_twin"))
                    continue
                origin, slot = self.ids[link.source], source.outputs.index(link.output)
                kind = self.outputs[link.source][slot]["type"]
            else:
                continue  # the node without a twin is reported already
            if slot < 0:
                continue
            lid = len(out) + 1
            if link.target == OUTPUTS and b is not None:
                names = [o.name for o in b.outputs]
                if link.input not in names:
                    continue
                target, tslot = -20, names.index(link.input)
                self.boundary_links.setdefault(("out", link.input), []).append(lid)
                self.link_ids[(OUTPUTS, link.input)] = lid
            elif link.target in self.twins:
                socket = self.target_socket(link.target, link.input)
                if socket is None:
                    self.problems.append(Problem(f"input {link.input!r} has no ComfyUI socket",
                                                 node=self.where + link.target, input=link.input,
                                                 code="no_comfyui_twin"))
                    continue
                socket["link"] = lid
                target, tslot = self.ids[link.target], self.inputs[link.target].index(socket)
                self.link_ids[(link.target, link.input)] = lid
            else:
                continue
            if origin == -10:
                self.boundary_links.setdefault(("in", link.output), []).append(lid)
            else:
                self.outputs[link.source][slot]["links"].append(lid)
            out.append([lid, origin, slot, target, tslot, kind])
        self.widget_sockets()
        return out

    def widget_sockets(self) -> None:
        """Widgets shown as sockets (``ui.widget_inputs``) that no link feeds get their input entry all the
        same: the form frontends before 1.16 saved a converted widget in, and the form the current frontend
        writes into pictures (only linked or converted widget inputs listed); linked ones have theirs already."""
        for nid, twin in self.twins.items():
            names = self.nodes[nid].ui.get("widget_inputs")
            for name in names if isinstance(names, list) else []:
                if isinstance(twin, _Instance) or not isinstance(name, str):
                    continue  # an instance lists every widget input already
                if any(twin.fluxwire_input(w) == name for w in twin.widgets if w != CONTROL and w not in twin.ignore):
                    self.target_socket(nid, name)

    def node(self, order: int, nid: str) -> dict:
        spec, twin = self.nodes[nid], self.twins[nid]
        properties: dict[str, Any] = {}
        if isinstance(twin, _Instance):
            widget_inputs = [i for i in twin.definition.inputs if i.widget is not None]
            widgets_values = [spec.widgets.get(i.name, i.default) for i in widget_inputs]
            comfy_type = twin.sid
            properties["proxyWidgets"] = [["-1", i.name] for i in widget_inputs]
        else:
            values = widget_values(self.where + nid, spec, twin, self.registry, self.problems)
            widgets_values = []
            for name in twin.widgets:
                if name == CONTROL:
                    widgets_values.append("fixed")
                elif name in twin.ignore:
                    widgets_values.append(IGNORED_VALUES.get(name))
                else:
                    widgets_values.append(values.get(name))
            comfy_type = twin.comfy
            properties["Node name for S&R"] = twin.comfy
        ui = spec.ui
        flags = {f: True for f in ("collapsed", "pinned") if ui.get(f) is True}
        node: dict[str, Any] = {
            "id": self.ids[nid], "type": comfy_type,
            "pos": list(ui["pos"]) if isinstance(ui.get("pos"), list) else [order * 340, 0],
            "size": list(ui["size"]) if isinstance(ui.get("size"), list) else list(DEFAULT_SIZE),
            "flags": flags, "order": order, "mode": MODE_NUMBERS.get(spec.mode or "", 0),
            "inputs": self.inputs[nid], "outputs": self.outputs[nid],
        }
        if isinstance(ui.get("title"), str):
            node["title"] = ui["title"]
        for key in ("color", "bgcolor"):
            if isinstance(ui.get(key), str):
                node[key] = ui[key]
        models = [{"name": m.get("name"), "url": m.get("url"), "directory": m.get("folder")}
                  for m in spec.properties.get("models", []) if isinstance(m, dict)]
        if models:
            properties["models"] = models
        node["properties"] = properties
        if widgets_values:
            node["widgets_values"] = widgets_values
        return node

    def reroutes(self, extra: dict) -> tuple[list[dict], list[dict]]:
        """(native reroutes, link extensions) from extra.reroutes / extra.link_reroutes; stale entries dropped."""
        points = {p["id"]: p for p in extra.get("reroutes", []) if isinstance(p, dict) and isinstance(p.get("id"), str)
                  and isinstance(p.get("pos"), list) and len(p["pos"]) == 2}
        tails = {self.link_ids[key]: tail for key, tail in
                 ((tuple(k.split("/", 1)), v) for k, v in (extra.get("link_reroutes") or {}).items()
                  if isinstance(k, str) and "/" in k) if key in self.link_ids and tail in points}
        numbers: dict[str, int] = {}
        for pid in points:  # "r<number>" (as imported from ComfyUI) keeps its number
            if pid[:1] == "r" and pid[1:].isdigit() and int(pid[1:]) not in numbers.values():
                numbers[pid] = int(pid[1:])
        next_id = max(numbers.values(), default=0) + 1
        for pid in points:
            if pid not in numbers:
                numbers[pid] = next_id
                next_id += 1
        through: dict[str, list[int]] = {}
        for lid, tail in sorted(tails.items()):
            seen: set[str] = set()
            while tail in points and tail not in seen:
                seen.add(tail)
                through.setdefault(tail, []).append(lid)
                tail = points[tail].get("parent")
        native = []
        for pid, p in points.items():
            if pid not in through:
                continue
            entry = {"id": numbers[pid], "pos": list(p["pos"]), "linkIds": through[pid]}
            if p.get("parent") in through:
                entry["parentId"] = numbers[p["parent"]]
            native.append(entry)
        extensions = [{"id": lid, "parentId": numbers[tail]} for lid, tail in sorted(tails.items())]
        return native, extensions

    def groups(self, groups: list) -> list[dict]:
        out = []
        for i, g in enumerate(groups):
            if not isinstance(g, dict) or not isinstance(g.get("bounding"), list):
                continue
            group: dict[str, Any] = {"id": i + 1, "title": str(g.get("title", "")), "bounding": list(g["bounding"])}
            for key in ("color", "font_size"):
                if key in g:
                    group[key] = g[key]
            group["flags"] = {"pinned": True} if g.get("pinned") is True else {}
            out.append(group)
        return out


def _subgraph_ids(workflow: Workflow) -> list[str]:
    """Embedded definitions in use, instanced from the top level or from other used definitions."""
    used, stack = [], [workflow.nodes]
    while stack:
        for spec in stack.pop().values():
            sid = getattr(spec.subgraph, "id", None)
            if sid in workflow.subgraphs and sid not in used:
                used.append(sid)
                stack.append(workflow.subgraphs[sid].nodes)
    return used


def _definition(sid: str, d, registry, definitions: dict, problems: list[Problem]) -> dict:
    """One ``definitions.subgraphs`` entry (schema 1 inside: links as objects, boundary nodes -10 / -20)."""
    writer = _Writer(d.nodes, d.links, registry, definitions, problems, boundary=d, where=f"{sid}/")
    links = writer.links()
    nodes = [writer.node(i, nid) for i, nid in enumerate(writer.twins)]
    boundary = d.extra.get("boundary", {}) if isinstance(d.extra, dict) else {}
    at = {k: v if isinstance(v, list) and len(v) == 2 else None for k, v in boundary.items()}
    ins = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sid}/in/{i.name}")), "name": i.name,
            "type": _comfy_type(i.type), "linkIds": writer.boundary_links.get(("in", i.name), [])} for i in d.inputs]
    outs = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sid}/out/{o.name}")), "name": o.name,
             "type": _comfy_type(o.type), "linkIds": writer.boundary_links.get(("out", o.name), [])} for o in d.outputs]
    native, extensions = writer.reroutes(d.extra if isinstance(d.extra, dict) else {})
    parents = {e["id"]: e["parentId"] for e in extensions}  # schema 1: each link names its last reroute
    objects = [dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), l)) for l in links]
    for link in objects:
        if link["id"] in parents:
            link["parentId"] = parents[link["id"]]
    return {"id": sid, "version": 1, "revision": 0, "name": d.name or sid, "description": d.description,
            "category": d.category, "config": {},
            "state": {"lastGroupId": 0, "lastNodeId": max(writer.ids.values(), default=0), "lastLinkId": len(links),
                      "lastRerouteId": max((r["id"] for r in native), default=0)},
            "inputNode": {"id": -10, "bounding": [*(at.get("inputs") or [-200, 0]), 120, 40 + 20 * len(ins)]},
            "outputNode": {"id": -20, "bounding": [*(at.get("outputs") or [1200, 0]), 120, 40 + 20 * len(outs)]},
            "inputs": ins, "outputs": outs, "widgets": [],
            "nodes": nodes, "groups": writer.groups(d.groups), "links": objects,
            **({"reroutes": native} if native else {}), "extra": {}}


def to_ui_workflow(workflow: Workflow, registry) -> dict:
    """The ComfyUI UI workflow (schema 0.4); raise WorkflowError listing everything that cannot be written."""
    problems: list[Problem] = []
    used = _subgraph_ids(workflow)
    definitions = {sid: workflow.subgraphs[sid] for sid in used}
    top = _Writer(workflow.nodes, workflow.links, registry, definitions, problems)
    links = top.links()
    nodes = [top.node(i, nid) for i, nid in enumerate(top.twins)]
    native, extensions = top.reroutes(workflow.extra)
    extra: dict[str, Any] = {"ds": {"scale": 1, "offset": [0, 0]}}
    if native:
        extra["reroutes"] = native
        extra["linkExtensions"] = extensions
    out = {"id": str(uuid.uuid4()), "revision": 0, "last_node_id": max(top.ids.values(), default=0),
           "last_link_id": len(links), "nodes": nodes, "links": links, "groups": top.groups(workflow.groups),
           "config": {}, "extra": extra, "version": 0.4}
    if used:
        out["definitions"] = {"subgraphs": [_definition(sid, definitions[sid], registry, definitions, problems)
                                            for sid in used]}
    if problems:
        raise WorkflowError(problems)
    return out


def dumps_ui_workflow(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
