"""A `ComfyGraph` turned into a fluxwire document (a plain dict, checked afterwards like any document).

Every ComfyUI class must have a twin in the table; the ones that do not are all reported at once, each
with its node id, title and whether fluxwire has an equivalent, and nothing is silently dropped. Node ids
stay ComfyUI's, so messages about a converted document point at the same nodes as in ComfyUI. UI 0.4
subgraphs become fluxwire subgraph definitions (keyed by ComfyUI's UUID) and "Subgraph" instances whose
widgets are the promoted widget values.
"""
from __future__ import annotations

from typing import Any

from ...graph.workflow import FORMAT, VERSION, Problem
from .graph import INPUTS, OUTPUTS, ComfyGraph, ComfyNode, ComfySubgraph, Ref, SubgraphSocket, describe
from .table import BY_CLASS, EQUIVALENTS, NOT_FOR_FLUX1, Twin, family_of
from .ui import _identifier

# properties.models "directory" values and fluxwire's folder kinds
_FOLDER_OF = {"diffusion_models": "diffusion_models", "unet": "diffusion_models", "text_encoders": "text_encoders",
              "clip": "text_encoders", "vae": "vae", "checkpoints": "checkpoints", "loras": "loras"}
# ComfyUI socket types that have another name in fluxwire
_TYPE_OF = {"CLIP": "TEXT_ENCODER", "COMBO": "STRING"}


def _available(twin: Twin, registry) -> bool:
    return not twin.when_registered or registry is None or twin.node in registry


def unsupported(graph: ComfyGraph, registry, subgraphs: dict, where: str = "") -> list[Problem]:
    """One problem per node fluxwire cannot run, all at once."""
    problems = []
    for node in graph.nodes.values():
        if node.cls in subgraphs:
            continue
        twin = BY_CLASS.get(node.cls)
        family = family_of(node.cls, node.inputs)
        what = describe(node) + where
        if family is not None:
            problems.append(Problem(f"{what} belongs to {family}; fluxwire runs FLUX.1 only",
                                    node=node.id, code="other_model_family"))
        elif node.cls in NOT_FOR_FLUX1:
            problems.append(Problem(f"{what} cannot run: {NOT_FOR_FLUX1[node.cls]}", node=node.id,
                                    code="unsupported_class"))
        elif twin is None and node.cls in EQUIVALENTS:
            problems.append(Problem(f"{what} has no direct twin in fluxwire: {EQUIVALENTS[node.cls]}",
                                    node=node.id, code="unsupported_class"))
        elif twin is None:
            problems.append(Problem(f"{what} is a ComfyUI node fluxwire has no equivalent for",
                                    node=node.id, code="unsupported_class"))
        elif not _available(twin, registry):
            problems.append(Problem(f"{what} maps to fluxwire's {twin.node}, which is not installed "
                                    "(its node pack is missing)", node=node.id, code="unsupported_class"))
    return problems


def _model_name(value: Any) -> Any:
    """ComfyUI names use the separator of the machine that saved them; fluxwire's use "/"."""
    return value.replace("\\", "/") if isinstance(value, str) else value


class _Converter:
    def __init__(self, subgraphs: dict[str, ComfySubgraph], problems: list[Problem], registry=None):
        self.subgraphs = subgraphs
        self.problems = problems
        self.registry = registry
        # "NODE/INPUT" -> last reroute point, per graph: None for the document's, else the definition's id
        self.link_reroutes: dict[str | None, dict[str, str]] = {}

    def output_name(self, graph: ComfyGraph, ref: Ref, boundary: ComfySubgraph | None) -> tuple[str, str] | None:
        """(fluxwire node id, output name) a ComfyUI link comes from, or None when there is none."""
        if ref.node == INPUTS:
            if boundary is None or ref.slot >= len(boundary.inputs):
                return None
            return INPUTS, boundary.inputs[ref.slot].name
        source = graph.nodes.get(ref.node)
        if source is None:
            return None
        if source.cls in self.subgraphs:
            outs = self.subgraphs[source.cls].outputs
            return (source.id, outs[ref.slot].name) if ref.slot < len(outs) else None
        twin = BY_CLASS.get(source.cls)
        if twin is None:
            return None
        output = twin.outputs[ref.slot] if ref.slot < len(twin.outputs) else None
        return (source.id, output) if output is not None else None

    def link(self, graph, node: ComfyNode, name: str, target: str, ref: Ref, boundary, links: list[dict]) -> None:
        if self._link(graph, node, name, target, ref, boundary, links) and name in node.reroutes:
            routes = self.link_reroutes.setdefault(boundary.id if boundary is not None else None, {})
            routes[f"{node.id}/{target}"] = node.reroutes[name]

    def _link(self, graph, node: ComfyNode, name: str, target: str, ref: Ref, boundary, links: list[dict]) -> bool:
        found = self.output_name(graph, ref, boundary)
        if found is None:
            source = graph.nodes.get(ref.node)
            if source is not None and BY_CLASS.get(source.cls) is None and source.cls not in self.subgraphs:
                return False  # the source is reported as unsupported already
            what = describe(source) if source is not None else f"node {ref.node}"
            self.problems.append(Problem(f"input {name!r} of {describe(node)} uses output {ref.slot} of {what}, "
                                         "which fluxwire does not provide", node=node.id, input=target,
                                         code="unsupported_output"))
            return False
        links.append({"from": found[0], "output": found[1], "to": node.id, "input": target})
        return True

    def value(self, node: ComfyNode, twin: Twin, name: str, value: Any) -> tuple[bool, Any]:
        """(usable, fluxwire value) of ComfyUI widget ``name``; an unsupported value is reported."""
        if name in twin.values:
            table = twin.values[name]
            if not isinstance(value, (str, int, float, bool, type(None))) or value not in table:
                allowed = ", ".join(repr(k) for k in table)
                self.problems.append(Problem(f"{describe(node)}: {name} {value!r} is not supported by fluxwire "
                                             f"(supported: {allowed})", node=node.id,
                                             input=twin.fluxwire_input(name), code="unsupported_value"))
                return False, None
            value = table[value]
            if value is None:
                return False, None  # a setting that only selects what fluxwire always does
        if name in twin.model_inputs:
            value = _model_name(value)
        return True, value

    def node(self, graph, node: ComfyNode, twin: Twin, boundary, links: list[dict]) -> dict:
        widgets: dict[str, Any] = {}
        known = set(twin.comfy_inputs)
        for name, value in node.inputs.items():
            if name in twin.ignore:
                continue
            target = twin.fluxwire_input(name)
            if isinstance(value, Ref):
                self.link(graph, node, name, target, value, boundary, links)
                continue
            if name not in known:
                continue  # a widget of a newer or older ComfyUI version that fluxwire's twin does not have
            ok, value = self.value(node, twin, name, value)
            if ok:
                widgets[target] = value
        widgets.update(twin.fixed)
        doc: dict[str, Any] = {"id": node.id, "type": twin.node, "widgets": widgets}
        own = self.widget_names(twin)
        self.decorate(doc, node, twin.comfy, [twin.fluxwire_input(n) for n in node.ui.get("widget_inputs", ())
                                              if twin.fluxwire_input(n) in own])
        models = [{"name": _model_name(m.get("name")), "url": m.get("url"),
                   "folder": _FOLDER_OF.get(m.get("directory"), m.get("directory"))}
                  for m in node.models if isinstance(m.get("name"), str)]
        if models:
            doc["properties"]["models"] = models
        return doc

    def instance(self, graph, node: ComfyNode, sub: ComfySubgraph, boundary, links: list[dict]) -> dict:
        widgets: dict[str, Any] = {}
        by_name = {s.comfy_name: s for s in sub.inputs}
        for name, value in node.inputs.items():
            socket = by_name.get(name)
            if socket is None:
                continue
            if isinstance(value, Ref):
                self.link(graph, node, name, socket.name, value, boundary, links)
            elif socket.widget and isinstance(value, (str, int, float, bool)):
                widgets[socket.name] = value
        promoted = {inner: name for name, inner in sub.promoted.items()}
        for inner, wname, value in node.proxies:  # the instance's own value of an inner widget wins
            name = promoted.get((inner, wname))
            inner_node = sub.graph.nodes.get(inner)
            if name is None or inner_node is None:
                continue
            ok, value = self.value(inner_node, BY_CLASS[inner_node.cls], wname, value)
            if ok:
                widgets[name] = value
        doc: dict[str, Any] = {"id": node.id, "type": "Subgraph", "subgraph": {"id": sub.id}, "widgets": widgets}
        self.decorate(doc, node, f"subgraph {sub.name}", [by_name[n].name for n in node.ui.get("widget_inputs", ())
                                                          if n in by_name and by_name[n].widget])
        return doc

    def widget_names(self, twin: Twin) -> set[str]:
        """The fluxwire node's widget inputs a ComfyUI widget socket can become (all of the twin's widgets
        when the node class is not installed)."""
        cls = self.registry.get(twin.node) if self.registry is not None else None
        if cls is not None:
            return {i.name for i in cls.inputs if i.is_widget}
        return {twin.fluxwire_input(w) for w in twin.widgets}

    @staticmethod
    def decorate(doc: dict, node: ComfyNode, comfy_class: str, widget_inputs: list[str] = ()) -> None:
        """The node's canvas data; ``widget_inputs``: its widgets shown as sockets, as fluxwire names."""
        ui = {k: v for k, v in node.ui.items() if k != "widget_inputs"}
        names = list(dict.fromkeys(widget_inputs))
        if names:
            ui["widget_inputs"] = names
        if node.title and node.title != node.cls:
            ui["title"] = node.title
        if ui:
            doc["ui"] = ui
        doc["properties"] = {"comfyui": {"class_type": comfy_class}}
        if node.mode:
            doc["mode"] = node.mode

    def graph(self, graph: ComfyGraph, boundary: ComfySubgraph | None = None) -> tuple[list, list]:
        nodes, links = [], []
        for node in graph.nodes.values():
            if node.cls in self.subgraphs:
                nodes.append(self.instance(graph, node, self.subgraphs[node.cls], boundary, links))
            else:
                nodes.append(self.node(graph, node, BY_CLASS[node.cls], boundary, links))
        return nodes, links

    def definition(self, sub: ComfySubgraph) -> dict:
        nodes, links = self.graph(sub.graph, sub)
        for slot, ref in sorted(sub.output_feeds.items()):
            if slot >= len(sub.outputs) or not isinstance(ref, Ref):
                continue
            found = self.output_name(sub.graph, ref, sub)
            if found is not None:
                links.append({"from": found[0], "output": found[1], "to": OUTPUTS, "input": sub.outputs[slot].name})
                if slot in sub.output_reroutes:
                    routes = self.link_reroutes.setdefault(sub.id, {})
                    routes[f"{OUTPUTS}/{sub.outputs[slot].name}"] = sub.output_reroutes[slot]
        inputs = []
        for s in sub.inputs:
            entry: dict[str, Any] = {"name": s.name, "type": _TYPE_OF.get(s.type, s.type)}
            if s.widget:
                entry["widget"] = {}
            if s.name in sub.promoted:  # an inner widget promoted with proxyWidgets: it feeds that widget
                inner, wname = sub.promoted[s.name]
                node = sub.graph.nodes[inner]
                twin = BY_CLASS[node.cls]
                ok, default = self.value(node, twin, wname, node.inputs.get(wname))
                if ok and default is not None:
                    entry["default"] = default
                links.append({"from": INPUTS, "output": s.name, "to": inner, "input": twin.fluxwire_input(wname)})
            inputs.append(entry)
        outputs = [{"name": s.name, "type": _TYPE_OF.get(s.type, s.type)} for s in sub.outputs]
        extra: dict[str, Any] = {"boundary": dict(sub.boundary)} if sub.boundary else {}
        extra.update(_reroute_data(sub.graph, self.link_reroutes.get(sub.id, {})))
        return {"name": sub.name, "description": sub.description, "category": sub.category or "subgraphs/comfyui",
                "inputs": inputs, "outputs": outputs, "nodes": nodes, "links": links, "groups": sub.graph.groups,
                "extra": extra}


def _promote(graph: ComfyGraph, sub: ComfySubgraph, registry) -> None:
    """Inner widgets some instance promotes with proxyWidgets become widget inputs of the definition that feed
    them (the definition's value as their default), so each instance's own value wins, as in ComfyUI."""
    wanted: list[tuple[str, str]] = []
    stack = [graph] + [s.graph for s in graph.subgraphs.values()]
    for g in stack:
        for node in g.nodes.values():
            if node.cls == sub.id:
                wanted += [(inner, wname) for inner, wname, _ in node.proxies if (inner, wname) not in wanted]
    taken = {s.name for s in sub.inputs}
    for inner, wname in wanted:
        node = sub.graph.nodes.get(inner)
        twin = BY_CLASS.get(node.cls) if node is not None else None
        if twin is None or wname not in twin.widgets or isinstance(node.inputs.get(wname), Ref):
            continue  # not a widget fluxwire knows, or fed by a link inside: the instance value has no place
        target = twin.fluxwire_input(wname)
        cls = registry.get(twin.node) if registry is not None else None
        kind = next((i.type for i in cls.inputs if i.name == target), "*") if cls is not None else "*"
        name = _identifier(f"{wname}_{inner}" if wname in taken else wname, taken)
        sub.inputs.append(SubgraphSocket(name, kind, True, f"{inner}: {wname}"))
        sub.promoted[name] = (inner, wname)


def _used_subgraphs(graph: ComfyGraph) -> list[str]:
    """Definitions instanced from the top level, directly or inside other used definitions."""
    used, stack = [], [graph]
    while stack:
        for node in stack.pop().nodes.values():
            if node.cls in graph.subgraphs and node.cls not in used:
                used.append(node.cls)
                stack.append(graph.subgraphs[node.cls].graph)
    return used


def to_document(graph: ComfyGraph, source: str | None, registry=None,
                subgraphs_supported: bool = VERSION >= 2) -> tuple[dict, list[Problem]]:
    """(fluxwire document, problems); the document is only meaningful when there are no problems.
    ``subgraphs_supported``: this fluxwire reads subgraph documents (format version 2)."""
    used = _used_subgraphs(graph)
    problems = unsupported(graph, registry, graph.subgraphs)
    for sid in used:
        sub = graph.subgraphs[sid]
        problems += unsupported(sub.graph, registry, graph.subgraphs, f" inside subgraph {sub.name!r}")
    if used and not subgraphs_supported:
        problems.append(Problem(f"the workflow uses ComfyUI subgraphs ({', '.join(graph.subgraphs[s].name for s in used)}),"
                                " which this fluxwire cannot run yet: unpack them in ComfyUI (right-click, Unpack "
                                "Subgraph) and save again", code="unsupported_subgraph"))
    if problems:
        return {}, problems
    for sid in used:
        _promote(graph, graph.subgraphs[sid], registry)
    convert = _Converter({sid: graph.subgraphs[sid] for sid in used}, problems, registry)
    nodes, links = convert.graph(graph)
    name = source.replace("\\", "/").rsplit("/", 1)[-1] if source else "ComfyUI workflow"
    doc = {"format": FORMAT, "version": 2 if used else 1,
           "metadata": {"title": name, "description": f"imported from a ComfyUI {graph.kind.upper()} workflow"},
           "nodes": nodes, "links": links,
           "extra": {"comfyui": {"format": graph.kind}}}
    if used:
        doc["subgraphs"] = {sid: convert.definition(graph.subgraphs[sid]) for sid in used}
    if graph.groups:
        doc["groups"] = graph.groups
    doc["extra"].update(_reroute_data(graph, convert.link_reroutes.get(None, {})))
    return doc, problems


def _reroute_data(graph: ComfyGraph, link_reroutes: dict[str, str]) -> dict:
    """``extra.reroutes`` / ``extra.link_reroutes`` of one graph (the document's or a definition's inside)."""
    points = _used_points(graph.extra.get("reroutes", []), link_reroutes)
    if not points:
        return {}
    kept = {p["id"] for p in points}
    return {"reroutes": points, "link_reroutes": {k: v for k, v in link_reroutes.items() if v in kept}}


def _used_points(points: list[dict], link_reroutes: dict[str, str]) -> list[dict]:
    """The reroute points some kept link passes through (each link's last point and the chain before it);
    a parent cycle in a hand-edited file is cut where the walk meets it again."""
    by_id = {p["id"]: dict(p) for p in points}
    used: set[str] = set()
    for tail in link_reroutes.values():
        path: set[str] = set()
        while tail in by_id and tail not in used:
            used.add(tail)
            path.add(tail)
            parent = by_id[tail]["parent"]
            if parent in path:
                by_id[tail]["parent"] = None
                break
            tail = parent
    return [dict(p, parent=p["parent"] if p["parent"] in used else None) for p in by_id.values() if p["id"] in used]
