"""ComfyUI's UI (litegraph) workflow format read into a `ComfyGraph`, doing what the ComfyUI frontend does
before it sends a prompt: widgets_values are named by the table's widget order, reroutes are followed,
PrimitiveNode values are pushed into the widgets they feed, and legacy group nodes (``extra.groupNodes``)
are expanded into their inner nodes. Muted (mode 2) and bypassed (mode 4) nodes of the top-level graph
are kept with their mode (fluxwire's engine applies it the way ComfyUI does, so the user can switch them
back on); where fluxwire cannot hold the node (no twin, another model family) or inside a subgraph
definition, the mode is applied here: bypassed nodes pass each output's consumers on to an input of the
same type, muted nodes are dropped together with every node that only fed them.
Subgraph definitions (``definitions.subgraphs``) are read the same way, with their boundary nodes -10
(inputs) and -20 (outputs). Positions, sizes, titles, colours, collapsed and pinned flags, groups and
reroutes (legacy Reroute nodes and 0.4 native reroutes, as points in ``extra.reroutes``) are kept, and so are
the widgets the user saw as input sockets (see `widget_sockets_listed`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...graph.workflow import Problem
import re

from .graph import INPUTS, ComfyGraph, ComfyNode, ComfySubgraph, Ref, SubgraphSocket
from .table import BY_CLASS, CONTROL, family_of

MUTED, BYPASSED = 2, 4
MODE_NAMES = {MUTED: "mute", BYPASSED: "bypass"}
VIRTUAL = ("Reroute", "PrimitiveNode")
# Frontend 1.16 (Comfy-Org/ComfyUI_frontend PR 3326) gave every widget an input socket, shown as a socket only
# while a link feeds it; before, an input entry with ``widget`` existed only for a widget the user converted.
EVERY_WIDGET_LISTED_FROM = (1, 16)
NO_SOCKET = (CONTROL, "upload")  # widgets without an input socket in any frontend
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = "-10", "-20"  # the ids of a subgraph definition's boundary nodes


def is_ui_workflow(data: Any) -> bool:
    return (isinstance(data, dict) and "format" not in data and isinstance(data.get("nodes"), list)
            and "links" in data and ("last_node_id" in data or "last_link_id" in data or "state" in data
                                     or data.get("version") in (0.4, 1)))


@dataclass
class _Link:
    origin: str
    slot: int
    target: str
    target_slot: int
    type: str


def _links(raw_links: Any, problems: list[Problem]) -> dict[Any, _Link]:
    out: dict[Any, _Link] = {}
    for i, raw in enumerate(raw_links if isinstance(raw_links, list) else []):
        try:
            if isinstance(raw, list):
                lid, origin, slot, target, tslot = raw[:5]
                kind = raw[5] if len(raw) > 5 else "*"
            else:
                lid, origin, slot, target, tslot = (raw["id"], raw["origin_id"], raw["origin_slot"], raw["target_id"],
                                                     raw["target_slot"])
                kind = raw.get("type", "*")
            if _lid(lid) is None:
                raise TypeError("bad link id")
            out[lid] = _Link(str(origin), int(slot), str(target), int(tslot), kind if isinstance(kind, str) else "*")
        except (KeyError, TypeError, ValueError, IndexError):
            problems.append(Problem(f"link #{i} of the ComfyUI workflow is malformed: {str(raw)[:60]}",
                                    code="bad_comfyui_link"))
    return out


def _lid(value: Any) -> Any:
    """A link id as it may key the link table (a number or text), else None."""
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _version(text: Any) -> tuple[int, ...] | None:
    found = re.match(r"\s*v?(\d+)\.(\d+)", text) if isinstance(text, str) else None
    return (int(found[1]), int(found[2])) if found else None


def widget_sockets_listed(data: dict) -> bool:
    """Whether the file comes from a frontend that lists every widget as an input (>= 1.16), where a widget
    input is a socket only while linked, rather than one where a listed widget input was converted by hand.
    ``extra.frontendVersion`` says so where the frontend stamped it (workflows embedded in pictures); a plain
    save does not, and is recognised by a node listing an input for each of two or more widgets."""
    version = _version(_dict(data.get("extra")).get("frontendVersion"))
    if version is not None:
        return version >= EVERY_WIDGET_LISTED_FROM
    for graph in [data] + _definitions(data):
        for raw in _list(graph.get("nodes")):
            twin = BY_CLASS.get(raw["type"]) if isinstance(raw, dict) and isinstance(raw.get("type"), str) else None
            wanted = {w for w in twin.widgets if w not in NO_SOCKET} if twin is not None else set()
            listed = {x["widget"].get("name") for x in _list(raw.get("inputs"))
                      if isinstance(x, dict) and isinstance(x.get("widget"), dict)} if wanted else set()
            if len(wanted) >= 2 and wanted <= listed:
                return True
    return False


class _Reader:
    def __init__(self, data: dict, problems: list[Problem], subgraph_ids: set | None = None,
                 representable=None, every_widget_listed: bool = True):
        """``representable(raw node)``: fluxwire can hold this node, so its mode is kept rather than applied
        (None: every mode is applied, as inside subgraph definitions). ``every_widget_listed``: see
        `widget_sockets_listed`."""
        self.problems = problems
        self.every_widget_listed = every_widget_listed
        self.links = _links(data.get("links"), problems)
        self.representable = representable
        extra = _dict(data.get("extra"))
        # native reroutes (0.4 keeps them in extra, schema 1 at the top level) and each link's last one
        self.native = {str(r["id"]): r for r in _list(extra.get("reroutes")) + _list(data.get("reroutes"))
                       if isinstance(r, dict) and _lid(r.get("id")) is not None}
        self.link_parents = {x["id"]: str(x["parentId"])
                             for x in _list(data.get("links")) + _list(extra.get("linkExtensions"))
                             if isinstance(x, dict) and _lid(x.get("id")) is not None
                             and _lid(x.get("parentId")) is not None}
        self.nodes: dict[str, dict] = {}
        for i, raw in enumerate(_list(data.get("nodes"))):
            if not isinstance(raw, dict) or "id" not in raw or not isinstance(raw.get("type"), str):
                problems.append(Problem(f"node #{i} of the ComfyUI workflow needs an id and a type",
                                        code="bad_comfyui_node"))
                continue
            self.nodes[str(raw["id"])] = raw
        self.group_configs = _dict(_dict(data.get("extra")).get("groupNodes"))
        self.subgraph_ids = subgraph_ids if subgraph_ids is not None else set()

    # ------------------------------------------------------------------ legacy group nodes
    def expand_group_nodes(self) -> None:
        for nid, raw in list(self.nodes.items()):
            kind = raw["type"]
            for prefix in ("workflow/", "workflow>"):
                if kind.startswith(prefix) and kind[len(prefix):] in self.group_configs:
                    self._expand(nid, raw, self.group_configs[kind[len(prefix):]])
                    break

    def _expand(self, gid: str, inst: dict, config: dict) -> None:
        inner = [n for n in _list(config.get("nodes")) if isinstance(n, dict) and isinstance(n.get("type"), str)]
        index_of = {n.get("index", i) if _lid(n.get("index", i)) is not None else i: i for i, n in enumerate(inner)}
        new_ids = [f"{gid}:{i}" for i in range(len(inner))]
        made = []
        for i, n in enumerate(inner):
            made.append({"id": new_ids[i], "type": n["type"], "mode": inst.get("mode", 0) or n.get("mode", 0),
                         "inputs": [dict(x, link=None) for x in _list(n.get("inputs")) if isinstance(x, dict)],
                         "outputs": [dict(x, links=[]) for x in _list(n.get("outputs")) if isinstance(x, dict)],
                         "widgets_values": list(_list(n.get("widgets_values"))), "title": n.get("title"),
                         "pos": inst.get("pos"), "properties": n.get("properties", {})})
        linked_in, linked_out = set(), set()
        for k, raw in enumerate(_list(config.get("links"))):
            try:
                o, os_, t, ts = index_of[raw[0]], int(raw[1]), index_of[raw[2]], int(raw[3])
            except (KeyError, TypeError, ValueError, IndexError):
                continue
            lid = f"{gid}:link{k}"
            kind = raw[5] if len(raw) > 5 and isinstance(raw[5], str) else "*"
            self.links[lid] = _Link(new_ids[o], os_, new_ids[t], ts, kind)
            if ts < len(made[t]["inputs"]):
                made[t]["inputs"][ts]["link"] = lid
            linked_in.add((t, ts))
            linked_out.add((o, os_))
        external = {(index_of.get(e[0]), e[1]) for e in _list(config.get("external"))
                    if isinstance(e, list) and len(e) >= 2 and _lid(e[0]) is not None and _lid(e[1]) is not None}
        # the instance's inputs: inner sockets not linked inside, in inner-node order
        exposed_in = [(t, ts) for t, n in enumerate(made) for ts, x in enumerate(n["inputs"])
                      if (t, ts) not in linked_in]
        sockets = [x for x in _list(inst.get("inputs")) if isinstance(x, dict) and not x.get("widget")]
        for (t, ts), x in zip(exposed_in, sockets):
            self._retarget(x.get("link"), made[t], new_ids[t], ts)
        for x in _list(inst.get("inputs")):
            if isinstance(x, dict) and isinstance(x.get("widget"), dict):
                wname = str(x["widget"].get("name", ""))
                for t, n in enumerate(made):
                    hit = next((ts for ts, y in enumerate(n["inputs"]) if isinstance(y.get("widget"), dict)
                                and (wname == y["widget"].get("name") or
                                     wname.endswith(" " + str(y["widget"].get("name"))))), None)
                    if hit is not None:
                        self._retarget(x.get("link"), n, new_ids[t], hit)
                        break
        exposed_out = [(o, s) for o, n in enumerate(made) for s in range(len(n["outputs"]))
                       if (o, s) not in linked_out or (o, s) in external]
        for link in self.links.values():
            if link.origin == gid and link.slot < len(exposed_out):
                o, s = exposed_out[link.slot]
                link.origin, link.slot = new_ids[o], s
        # widget values: the instance's list, spread over the inner widgets not fed from inside the group
        values = list(_list(inst.get("widgets_values")))
        for t, n in enumerate(made):
            twin = BY_CLASS.get(n["type"])
            if twin is None:
                continue
            fed = {y["widget"].get("name") for ts, y in enumerate(n["inputs"])
                   if isinstance(y.get("widget"), dict) and (t, ts) in linked_in}
            own = n["widgets_values"]
            for w_i, wname in enumerate(twin.widgets):
                if wname in fed:
                    continue
                if not values:
                    break
                value = values.pop(0)
                while len(own) <= w_i:
                    own.append(None)
                own[w_i] = value
        del self.nodes[gid]
        for n in made:
            self.nodes[n["id"]] = n

    def _retarget(self, lid: Any, node: dict, node_id: str, slot: int) -> None:
        lid = _lid(lid)
        if lid is None or lid not in self.links:
            return
        link = self.links[lid]
        link.target, link.target_slot = node_id, slot
        node["inputs"][slot]["link"] = lid

    # ------------------------------------------------------------------ muted and bypassed nodes
    def kept(self, nid: str) -> bool:
        """Whether the node's mode is kept on the fluxwire node (not applied at import)."""
        raw = self.nodes.get(nid)
        return (raw is not None and raw.get("mode") in MODE_NAMES and self.representable is not None
                and bool(self.representable(raw)))

    def applied_bypass(self, nid: str) -> bool:
        return self.nodes[nid].get("mode") == BYPASSED and not self.kept(nid)

    def dropped(self) -> set[str]:
        """Nodes left out: muted nodes whose mode is applied here and, repeatedly, every node all of whose
        consumers are muted or left out (a node fluxwire can hold stays while one of its consumers does:
        the engine drops it with the muted node, and un-muting brings both back)."""
        dead = {nid for nid, n in self.nodes.items() if n.get("mode") == MUTED}
        consumers: dict[str, set[str]] = {}
        for link in self.links.values():
            if link.origin in self.nodes and (link.target in self.nodes or link.target == SUBGRAPH_OUTPUT):
                consumers.setdefault(link.origin, set()).add(link.target)

        def spread(into: set[str], only: set[str] | None = None) -> None:
            changed = True
            while changed:
                changed = False
                for nid, targets in consumers.items():
                    if nid not in into and (only is None or nid in only) and targets and targets <= into:
                        into.add(nid)
                        changed = True

        spread(dead)
        holdable = self.representable
        gone = {nid for nid in dead if holdable is None or not holdable(self.nodes[nid])}
        spread(gone, {nid for nid in dead if self.nodes[nid].get("mode") != MUTED})
        return gone

    def resolve(self, lid: Any, gone: set[str], seen: frozenset = frozenset()):
        """What a link delivers after reroutes, primitives and bypasses: a Ref, ("value", v) or None."""
        lid = _lid(lid)
        link = self.links.get(lid) if lid is not None else None
        if link is not None and link.origin == SUBGRAPH_INPUT:
            return Ref(INPUTS, link.slot)
        if link is None or lid in seen or link.origin not in self.nodes:
            return None
        seen = seen | {lid}
        origin = self.nodes[link.origin]
        if link.origin in gone:
            return None
        kind = origin["type"]
        if kind == "Reroute":
            ins = _list(origin.get("inputs"))
            return self.resolve(ins[0].get("link"), gone, seen) if ins and isinstance(ins[0], dict) else None
        if kind == "PrimitiveNode":
            values = origin.get("widgets_values")
            return ("value", values[0]) if isinstance(values, list) and values else None
        if self.applied_bypass(link.origin):
            ins = [x for x in _list(origin.get("inputs")) if isinstance(x, dict)]
            want = link.type
            order = ([ins[link.slot]] if link.slot < len(ins) else []) + ins
            for x in order:
                if x.get("link") is not None and (x.get("type") == want or "*" in (x.get("type"), want)):
                    return self.resolve(x["link"], gone, seen)
            return None
        return Ref(link.origin, link.slot)

    # ------------------------------------------------------------------ the graph
    def graph(self) -> ComfyGraph:
        self.expand_group_nodes()
        gone = self.dropped()
        graph = ComfyGraph(kind="ui")
        for nid, raw in self.nodes.items():
            kind = raw["type"]
            if kind in VIRTUAL or nid in gone or self.applied_bypass(nid):
                continue
            graph.nodes[nid] = self._node(nid, raw, gone)
        graph.extra["reroutes"] = self.reroute_points()
        return graph

    # ------------------------------------------------------------------ reroutes
    def wire_tail(self, lid: Any) -> str | None:
        """The last reroute point a ComfyUI link passes before its input: its native parent reroute, else the
        legacy Reroute node it comes out of. Points are "r<id>" (native) and "n<node id>" (Reroute nodes)."""
        lid = _lid(lid)
        link = self.links.get(lid) if lid is not None else None
        if link is None:
            return None
        parent = self.link_parents.get(lid)
        if parent is not None and parent in self.native:
            return "r" + parent
        if self.nodes.get(link.origin, {}).get("type") == "Reroute":
            return "n" + link.origin
        return None

    def reroute_points(self) -> list[dict]:
        """Every reroute as a point {id, pos, parent}; a native chain leaving a Reroute node hangs off it."""
        points: dict[str, dict] = {}
        for rid, r in self.native.items():
            parent = str(r["parentId"]) if _lid(r.get("parentId")) is not None else None
            points["r" + rid] = {"id": "r" + rid, "pos": _point(r.get("pos")),
                                 "parent": "r" + parent if parent in self.native else None}
        for nid, raw in self.nodes.items():
            if raw["type"] == "Reroute":
                ins = [x for x in _list(raw.get("inputs")) if isinstance(x, dict)]
                points["n" + nid] = {"id": "n" + nid, "pos": _point(raw.get("pos")),
                                     "parent": self.wire_tail(ins[0].get("link")) if ins else None}
        for lid, parent in self.link_parents.items():
            link = self.links.get(lid)
            if link is None or self.nodes.get(link.origin, {}).get("type") != "Reroute" or parent not in self.native:
                continue
            root, seen = points["r" + parent], set()
            while root["parent"] is not None and root["parent"] in points and root["id"] not in seen:
                seen.add(root["id"])
                root = points[root["parent"]]
            if root["parent"] is None and root["id"].startswith("r"):
                root["parent"] = "n" + link.origin
        return [p for p in points.values() if p["pos"] is not None]

    def feeds_widget(self, lid: Any) -> bool:
        """Whether a link ends in a widget input (one converted to a socket)."""
        link = self.links.get(lid) if _lid(lid) is not None else None
        if link is None:
            return False
        inputs = _list(self.nodes.get(link.target, {}).get("inputs"))
        slot = inputs[link.target_slot] if 0 <= link.target_slot < len(inputs) else None
        return isinstance(slot, dict) and isinstance(slot.get("widget"), dict)

    def output_feeds(self, gone: set[str]) -> dict[int, Any]:
        """In a subgraph definition: what feeds each output of the subgraph (links into node -20)."""
        return {link.target_slot: self.resolve(lid, gone) for lid, link in self.links.items()
                if link.target == SUBGRAPH_OUTPUT}

    def output_reroutes(self) -> dict[int, str]:
        """In a subgraph definition: the last reroute point of the wire into each output that has one."""
        tails = {link.target_slot: self.wire_tail(lid) for lid, link in self.links.items()
                 if link.target == SUBGRAPH_OUTPUT}
        return {slot: tail for slot, tail in tails.items() if tail is not None}

    def widget_sockets(self, raw: dict) -> list[str]:
        """The ComfyUI names of the widgets this node showed as input sockets: with every widget listed (and
        always on subgraph instances, which only such frontends make) the linked ones, else every listed one
        (converted by hand, linked or not)."""
        out = []
        linked_only = self.every_widget_listed or raw["type"] in self.subgraph_ids
        for x in _list(raw.get("inputs")):
            if not isinstance(x, dict) or not isinstance(x.get("widget"), dict):
                continue
            name = x["widget"].get("name")
            linked = _lid(x.get("link")) is not None and x["link"] in self.links
            if isinstance(name, str) and (linked or not linked_only) and name not in out:
                out.append(name)
        return out

    def _node(self, nid: str, raw: dict, gone: set[str]) -> ComfyNode:
        kind = raw["type"]
        twin = BY_CLASS.get(kind)
        inputs: dict[str, Any] = {}
        reroutes: dict[str, str] = {}
        values = raw.get("widgets_values")
        proxies = []
        promoted = _proxy_widgets(raw) if kind in self.subgraph_ids else []
        if promoted:  # an instance listing its widgets: values in that order; "-1" is a subgraph input
            for (inner, wname), value in zip(promoted, _list(values)):
                if inner == "-1":
                    inputs[wname] = value
                else:
                    proxies.append((inner, wname, value))
        elif kind in self.subgraph_ids:  # an instance: its widget values go to its widget inputs, in order
            widget_names = [str(x.get("name")) for x in _list(raw.get("inputs"))
                            if isinstance(x, dict) and isinstance(x.get("widget"), dict)]
            inputs.update(dict(zip(widget_names, _list(values))))
        elif isinstance(values, dict):
            inputs.update({str(k): v for k, v in values.items()})
        elif isinstance(values, list) and twin is not None:
            for name, value in zip(twin.widgets, values):
                if name != CONTROL:
                    inputs[name] = value
        for x in _list(raw.get("inputs")):
            if not isinstance(x, dict) or x.get("link") is None:
                continue
            name = x.get("widget", {}).get("name") if isinstance(x.get("widget"), dict) else None
            name = name or x.get("name")
            got = self.resolve(x["link"], gone)
            if isinstance(got, Ref):
                inputs[str(name)] = got
                tail = self.wire_tail(x["link"])
                if tail is not None:
                    reroutes[str(name)] = tail
            elif isinstance(got, tuple):
                inputs[str(name)] = got[1]
        ui = {}
        sockets = self.widget_sockets(raw)
        if sockets:
            ui["widget_inputs"] = sockets
        pos = raw.get("pos")
        if isinstance(pos, dict):
            pos = [pos.get("0"), pos.get("1")]
        if isinstance(pos, list) and len(pos) >= 2 and all(_number(v) for v in pos[:2]):
            ui["pos"] = [pos[0], pos[1]]
        size = raw.get("size")
        if isinstance(size, dict):
            size = [size.get("0"), size.get("1")]
        if isinstance(size, list) and len(size) >= 2 and all(_number(v) for v in size[:2]):
            ui["size"] = [size[0], size[1]]
        for key in ("color", "bgcolor"):
            if isinstance(raw.get(key), str):
                ui[key] = raw[key]
        for flag in ("collapsed", "pinned"):
            if _dict(raw.get("flags")).get(flag) is True:
                ui[flag] = True
        title = raw.get("title") if isinstance(raw.get("title"), str) else None
        models = [m for m in _list(_dict(raw.get("properties")).get("models")) if isinstance(m, dict)]
        mode = MODE_NAMES[raw["mode"]] if self.kept(nid) else None
        return ComfyNode(nid, kind, inputs, title, ui, models, mode, reroutes, proxies)


def _proxy_widgets(raw: dict) -> list[tuple[str, str]]:
    """An instance's ``properties.proxyWidgets``: [(inner node id or "-1", widget name)], a list or JSON text."""
    value = _dict(raw.get("properties")).get("proxyWidgets")
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [(str(e[0]), str(e[1])) for e in _list(value)
            if isinstance(e, list) and len(e) == 2 and _lid(e[0]) is not None and isinstance(e[1], str)]


def _point(pos: Any) -> list | None:
    if isinstance(pos, dict):
        pos = [pos.get("0"), pos.get("1")]
    return [pos[0], pos[1]] if isinstance(pos, list) and len(pos) >= 2 and all(_number(v) for v in pos[:2]) else None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) < 1e9


def _identifier(name: Any, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", str(name)).strip("_") or "input"
    base = base if re.match(r"[A-Za-z_]", base) else "_" + base
    out, n = base, 2
    while out in taken:
        out, n = f"{base}_{n}", n + 1
    taken.add(out)
    return out


def _definitions(data: dict) -> list[dict]:
    """Every subgraph definition, also ones nested in other definitions."""
    out, stack = [], [data]
    while stack:
        for sg in _list(_dict(stack.pop().get("definitions")).get("subgraphs")):
            if isinstance(sg, dict) and isinstance(sg.get("id"), str) and sg["id"]:
                out.append(sg)
                stack.append(sg)
    return out


def _read_subgraph(sg: dict, ids: set, problems: list[Problem], every_widget_listed: bool) -> ComfySubgraph:
    reader = _Reader(sg, problems, ids, every_widget_listed=every_widget_listed)
    inner = reader.graph()
    gone = reader.dropped()
    taken: set[str] = set()
    inputs = []
    for x in _list(sg.get("inputs")):
        x = _dict(x)
        feeds_widget = any(reader.feeds_widget(lid) for lid in _list(x.get("linkIds")))
        inputs.append(SubgraphSocket(_identifier(x.get("name"), taken), str(x.get("type", "*")), feeds_widget,
                                     str(x.get("name"))))
    taken = set()
    outputs = [SubgraphSocket(_identifier(_dict(x).get("name"), taken), str(_dict(x).get("type", "*")),
                              comfy_name=str(_dict(x).get("name"))) for x in _list(sg.get("outputs"))]
    inner.groups = _groups(sg)
    boundary = {side: _point(_list(_dict(sg.get(key)).get("bounding"))[:2])
                for side, key in (("inputs", "inputNode"), ("outputs", "outputNode"))}
    return ComfySubgraph(sg["id"], str(sg.get("name") or sg["id"]), inputs, outputs, inner,
                         reader.output_feeds(gone), str(sg.get("description") or ""), str(sg.get("category") or ""),
                         output_reroutes=reader.output_reroutes(),
                         boundary={side: at for side, at in boundary.items() if at is not None})


def holdable(subgraph_ids: set, registry=None):
    """Whether fluxwire can hold a UI node as a node of its own (so a mode on it can be kept, not applied):
    a subgraph instance, or a class with an installed twin, of FLUX.1, whose widget values the twin takes."""
    def check(raw: dict) -> bool:
        kind = raw["type"]
        if kind in subgraph_ids:
            return True
        twin = BY_CLASS.get(kind)
        if twin is None or (registry is not None and twin.when_registered and twin.node not in registry):
            return False
        values = raw.get("widgets_values")
        widgets = dict(zip(twin.widgets, values)) if isinstance(values, list) else _dict(values)
        if family_of(kind, widgets) is not None:
            return False
        return all(_hashable(widgets[name]) and widgets[name] in table
                   for name, table in twin.values.items() if name in widgets)
    return check


def _hashable(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool, type(None)))


def read_ui(data: dict, problems: list[Problem], registry=None) -> ComfyGraph:
    definitions = _definitions(data)
    ids = {sg["id"] for sg in definitions}
    listed = widget_sockets_listed(data)
    reader = _Reader(data, problems, ids, holdable(ids, registry), listed)
    graph = reader.graph()
    for sg in definitions:
        graph.subgraphs[sg["id"]] = _read_subgraph(sg, ids, problems, listed)
    graph.groups = _groups(data)
    return graph


def _groups(data: dict) -> list[dict]:
    """A graph's groups (the document's or a subgraph definition's): title, box, colour, font size, pinned."""
    out = []
    for g in _list(data.get("groups")):
        box = g.get("bounding") if isinstance(g, dict) else None
        if isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box):
            group = {"title": str(g.get("title", "")), "bounding": list(box)}
            if isinstance(g.get("color"), str):
                group["color"] = g["color"]
            if _number(g.get("font_size")):
                group["font_size"] = g["font_size"]
            if _dict(g.get("flags")).get("pinned") is True:
                group["pinned"] = True
            out.append(group)
    return out
