"""A fluxwire document written as a ComfyUI UI workflow (schema 0.4, what ComfyUI's "Save" writes), through
the same table read backwards as the API export.

Unlike an API prompt, a UI workflow keeps what the canvas shows: node modes (mute 2, bypass 4) are written
as they are, not applied; notes stay; positions, sizes, titles, colours, collapsed and pinned flags, groups
and reroute points (as ComfyUI's native reroutes: ``extra.reroutes`` with ``parentId`` chains and
``extra.linkExtensions`` naming each link's last reroute) carry over. Node ids that are numbers stay the
same; other ids get the next free numbers (ComfyUI's ids are integers). Subgraphs are not written yet.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from ...workflow import Problem, Workflow, WorkflowError
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


def _node_ids(workflow: Workflow) -> dict[str, int]:
    """fluxwire id -> ComfyUI id: numbers kept, the others numbered after the largest."""
    ids: dict[str, int] = {}
    for nid in workflow.nodes:
        if nid.isdigit() and int(nid) > 0 and int(nid) not in ids.values():
            ids[nid] = int(nid)
    next_id = max(ids.values(), default=0) + 1
    for nid in workflow.nodes:
        if nid not in ids:
            ids[nid] = next_id
            next_id += 1
    return ids


class _Writer:
    def __init__(self, workflow: Workflow, registry):
        self.wf = workflow
        self.registry = registry
        self.problems: list[Problem] = []
        self.ids = _node_ids(workflow)
        self.twins: dict[str, Twin] = {}
        for nid, spec in workflow.nodes.items():
            if spec.subgraph is not None or spec.type == "Subgraph":
                self.problems.append(Problem("subgraph instances cannot be written to ComfyUI's UI format yet; "
                                             "export the API prompt (--comfyui-api) or unpack the subgraph",
                                             node=nid, code="no_comfyui_twin"))
                continue
            twin = _twin_for(spec)
            if twin is None:
                self.problems.append(Problem(f"{spec.type} has no ComfyUI twin", node=nid, code="no_comfyui_twin"))
                continue
            self.twins[nid] = twin

    def socket_type(self, spec, name: str, output: bool = False) -> str:
        cls = self.registry.get(spec.type)
        sockets = (cls.outputs if output else cls.inputs) if cls is not None else []
        return _comfy_type(next((s.type for s in sockets if s.name == name), None))

    def links(self) -> list[list]:
        """ComfyUI links [id, origin, slot, target, target slot, type], also noting each node's sockets."""
        out: list[list] = []
        self.inputs: dict[str, list[dict]] = {}
        self.outputs: dict[str, list[dict]] = {}
        self.link_ids: dict[tuple[str, str], int] = {}
        for nid, twin in self.twins.items():
            spec = self.wf.nodes[nid]
            self.inputs[nid] = [{"name": name, "type": self.socket_type(spec, twin.fluxwire_input(name)), "link": None}
                                for name in twin.sockets]
            self.outputs[nid] = [{"name": self.socket_type(spec, o, True) if o else "*",
                                  "type": self.socket_type(spec, o, True) if o else "*", "links": [], "slot_index": i}
                                 for i, o in enumerate(twin.outputs)]
        for link in self.wf.links:
            source, target = self.twins.get(link.source), self.twins.get(link.target)
            if source is None or target is None:
                continue  # the node without a twin is reported already
            if link.output not in source.outputs:
                self.problems.append(Problem(f"output {link.output!r} of node {link.source!r} has no ComfyUI slot",
                                             node=link.target, input=link.input, code="no_comfyui_twin"))
                continue
            name = next((c for c in target.comfy_inputs if target.fluxwire_input(c) == link.input), None)
            if name is None:
                self.problems.append(Problem(f"input {link.input!r} has no ComfyUI socket in {target.comfy}",
                                             node=link.target, input=link.input, code="no_comfyui_twin"))
                continue
            slot = source.outputs.index(link.output)
            inputs = self.inputs[link.target]
            socket = next((x for x in inputs if x["name"] == name), None)
            if socket is None:  # a widget fed by a link: ComfyUI's widget input
                socket = {"name": name, "type": self.socket_type(self.wf.nodes[link.target], link.input),
                          "widget": {"name": name}, "link": None}
                inputs.append(socket)
            lid = len(out) + 1
            kind = self.outputs[link.source][slot]["type"]
            socket["link"] = lid
            self.outputs[link.source][slot]["links"].append(lid)
            out.append([lid, self.ids[link.source], slot, self.ids[link.target], inputs.index(socket), kind])
            self.link_ids[(link.target, link.input)] = lid
        return out

    def node(self, order: int, nid: str) -> dict:
        spec, twin = self.wf.nodes[nid], self.twins[nid]
        values = widget_values(nid, spec, twin, self.registry, self.problems)
        widgets_values = []
        for name in twin.widgets:
            if name == CONTROL:
                widgets_values.append("fixed")
            elif name in twin.ignore:
                widgets_values.append(IGNORED_VALUES.get(name))
            else:
                widgets_values.append(values.get(name))
        ui = spec.ui
        flags = {f: True for f in ("collapsed", "pinned") if ui.get(f) is True}
        node: dict[str, Any] = {
            "id": self.ids[nid], "type": twin.comfy,
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
        properties: dict[str, Any] = {"Node name for S&R": twin.comfy}
        models = [{"name": m.get("name"), "url": m.get("url"), "directory": m.get("folder")}
                  for m in spec.properties.get("models", []) if isinstance(m, dict)]
        if models:
            properties["models"] = models
        node["properties"] = properties
        if twin.widgets:
            node["widgets_values"] = widgets_values
        return node

    def reroutes(self) -> tuple[list[dict], list[dict]]:
        """(native reroutes, link extensions) from extra.reroutes / extra.link_reroutes; stale entries dropped."""
        extra = self.wf.extra
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

    def workflow(self) -> dict:
        links = self.links()
        nodes = [self.node(i, nid) for i, nid in enumerate(self.twins)]
        groups = []
        for i, g in enumerate(self.wf.groups):
            if not isinstance(g, dict) or not isinstance(g.get("bounding"), list):
                continue
            group: dict[str, Any] = {"id": i + 1, "title": str(g.get("title", "")), "bounding": list(g["bounding"])}
            for key in ("color", "font_size"):
                if key in g:
                    group[key] = g[key]
            group["flags"] = {"pinned": True} if g.get("pinned") is True else {}
            groups.append(group)
        native, extensions = self.reroutes()
        extra: dict[str, Any] = {"ds": {"scale": 1, "offset": [0, 0]}}
        if native:
            extra["reroutes"] = native
            extra["linkExtensions"] = extensions
        return {"id": str(uuid.uuid4()), "revision": 0, "last_node_id": max(self.ids.values(), default=0),
                "last_link_id": len(links), "nodes": nodes, "links": links, "groups": groups, "config": {},
                "extra": extra, "version": 0.4}


def to_ui_workflow(workflow: Workflow, registry) -> dict:
    """The ComfyUI UI workflow (schema 0.4); raise WorkflowError listing everything that cannot be written."""
    writer = _Writer(workflow, registry)
    out = writer.workflow()
    if writer.problems:
        raise WorkflowError(writer.problems)
    return out


def dumps_ui_workflow(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
