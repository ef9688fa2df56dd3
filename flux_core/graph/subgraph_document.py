"""Subgraph definitions and references as they are written in a document (format version 2).

Only the shape is checked here (every problem collected); resolving references, detecting cycles and
expanding instances into plain nodes is `flux_core.graph.subgraphs`, reading subgraph files
`flux_core.graph.subgraph_files`. See docs/workflow-format.md, *Subgraphs*.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SUBGRAPH_TYPE = "Subgraph"  # the node type of every instance
SUBGRAPH_FORMAT = "fluxwire.subgraph"  # a subgraph file
INPUTS_NODE, OUTPUTS_NODE = "@inputs", "@outputs"  # the boundary inside a definition
REF_KEYS = {"id", "file", "library", "revision", "sockets"}
DEFINITION_KEYS = {"name", "description", "category", "inputs", "outputs", "nodes", "links", "groups", "extra"}
INPUT_KEYS = {"name", "type", "default", "optional", "widget", "label", "description"}
OUTPUT_KEYS = {"name", "type", "label", "description"}
WIDGET_RULES = {"min", "max", "step", "choices", "multiline", "seed"}
_SOCKET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REVISION = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass
class SubgraphRef:
    """Where an instance's definition lives: embedded `id`, a `file` path, or a `library` name."""

    id: str | None = None
    file: str | None = None
    library: str | None = None
    revision: str | None = None
    sockets: dict | None = None  # {"inputs": {name: type}, "outputs": {name: type}} when made

    def to_dict(self) -> dict:
        return {k: v for k, v in (("id", self.id), ("file", self.file), ("library", self.library),
                                  ("revision", self.revision), ("sockets", self.sockets)) if v is not None}

    def label(self) -> str:
        if self.id is not None:
            return f"subgraph {self.id!r}"
        if self.file is not None:
            return f"file {self.file!r}"
        return f"library entry {self.library!r}"


@dataclass
class SubgraphInput:
    name: str
    type: str
    default: Any = None
    optional: bool = False
    widget: dict | None = None  # present: the input acts as a widget on the instance
    label: str | None = None
    description: str = ""

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.default is not None:
            d["default"] = self.default
        if self.optional:
            d["optional"] = True
        if self.widget is not None:
            d["widget"] = self.widget
        if self.label is not None:
            d["label"] = self.label
        if self.description:
            d["description"] = self.description
        return d


@dataclass
class SubgraphOutput:
    name: str
    type: str
    label: str | None = None
    description: str = ""

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.label is not None:
            d["label"] = self.label
        if self.description:
            d["description"] = self.description
        return d


@dataclass
class SubgraphDef:
    """A workflow with declared inputs and outputs, used as one node."""

    inputs: list[SubgraphInput]
    outputs: list[SubgraphOutput]
    nodes: dict  # id -> NodeSpec
    links: list  # Link, including @inputs / @outputs boundary links
    name: str = ""
    description: str = ""
    category: str = ""
    groups: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def input(self, name: str) -> SubgraphInput | None:
        return next((i for i in self.inputs if i.name == name), None)

    def output(self, name: str) -> SubgraphOutput | None:
        return next((o for o in self.outputs if o.name == name), None)

    def sockets(self) -> dict:
        """The interface an instance records, to notice later that a referenced file changed incompatibly."""
        return {"inputs": {i.name: i.type for i in self.inputs}, "outputs": {o.name: o.type for o in self.outputs}}

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "inputs": [i.to_dict() for i in self.inputs],
            "outputs": [o.to_dict() for o in self.outputs],
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "links": [l.to_dict() for l in sorted(self.links, key=lambda l: (l.target, l.input))],
        }
        for key in ("name", "description", "category"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.groups:
            d["groups"] = self.groups
        if self.extra:
            d["extra"] = self.extra
        return d


# ----------------------------------------------------------------------------- parsing

def parse_ref(raw: Any, node_id: str, problems: list) -> SubgraphRef | None:
    """The `subgraph` key of an instance node."""
    from .workflow import Problem, _kind, _short

    def bad(message):
        problems.append(Problem(message, node=node_id, code="bad_subgraph_ref"))

    if not isinstance(raw, dict):
        bad(f'"subgraph" must be an object naming "id", "file" or "library", got {_kind(raw)}')
        return None
    for key in sorted(set(raw) - REF_KEYS, key=str):
        bad(f'unknown key {_short(key)} in "subgraph"')
    where = [k for k in ("id", "file", "library") if k in raw]
    if len(where) != 1:
        bad('"subgraph" needs exactly one of "id", "file" or "library"'
            + (f", got {', '.join(where)}" if where else ""))
        return None
    value = raw[where[0]]
    if not isinstance(value, str) or not value:
        bad(f'"subgraph".{where[0]} must be non-empty text, got {_short(value)}')
        return None
    revision, sockets = raw.get("revision"), raw.get("sockets")
    if where[0] == "id" and (revision is not None or sockets is not None):
        bad('"revision" and "sockets" belong to "file" and "library" references only')
    if revision is not None and (not isinstance(revision, str) or not _REVISION.match(revision)):
        bad(f'"subgraph".revision must look like "sha256:<64 hex digits>", got {_short(revision)}')
        revision = None
    if sockets is not None and not _good_sockets(sockets):
        bad('"subgraph".sockets must be {"inputs": {name: type}, "outputs": {name: type}}')
        sockets = None
    return SubgraphRef(**{where[0]: value}, revision=revision, sockets=sockets)


def _good_sockets(sockets: Any) -> bool:
    return (isinstance(sockets, dict) and set(sockets) <= {"inputs", "outputs"}
            and all(isinstance(v, dict) and all(isinstance(k, str) and isinstance(t, str) for k, t in v.items())
                    for v in sockets.values()))


def parse_definitions(raw: dict, problems: list) -> dict[str, SubgraphDef]:
    """The `subgraphs` section: definition id -> definition."""
    from .workflow import Problem, _short

    out = {}
    for def_id, body in raw.items():
        if not isinstance(def_id, str) or not def_id or "/" in def_id:
            problems.append(Problem(f"subgraph id {_short(def_id)} must be non-empty text without '/'",
                                    code="bad_subgraph"))
            continue
        definition = parse_definition(body, f"subgraph {def_id!r}", problems)
        if definition is not None:
            out[def_id] = definition
    return out


def parse_definition(raw: Any, where: str, problems: list, allowed: set[str] = DEFINITION_KEYS) -> SubgraphDef | None:
    """One definition. Problems inside name the definition in their message (`where`); node ids are inner ids."""
    from .workflow import Problem, _kind, _parse_link, _parse_node, _short

    own: list = []
    if not isinstance(raw, dict):
        problems.append(Problem(f"{where} must be an object, got {_kind(raw)}", code="bad_subgraph"))
        return None
    for key in sorted(set(raw) - allowed, key=str):
        own.append(Problem(f"unknown key {_short(key)}", code="unknown_key"))
    texts = {}
    for key in ("name", "description", "category"):
        value = raw.get(key, "")
        if not isinstance(value, str):
            own.append(Problem(f'"{key}" must be text, got {_kind(value)}', code="bad_type"))
            value = ""
        texts[key] = value
    inputs = _parse_sockets(raw, "inputs", own)
    outputs = _parse_sockets(raw, "outputs", own)
    groups = raw.get("groups", [])
    extra = raw.get("extra", {})
    if not isinstance(groups, list):
        own.append(Problem(f'"groups" must be a list, got {_kind(groups)}', code="bad_type"))
        groups = []
    if not isinstance(extra, dict):
        own.append(Problem(f'"extra" must be an object, got {_kind(extra)}', code="bad_type"))
        extra = {}

    nodes: dict = {}
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, list):
        own.append(Problem(f'"nodes" must be a list, got {_kind(raw_nodes)}', code="bad_type"))
        raw_nodes = []
    for i, node_raw in enumerate(raw_nodes):
        spec = _parse_node(node_raw, i, own)
        if spec is None:
            continue
        if "/" in spec.id or spec.id.startswith("@"):
            own.append(Problem("node ids inside a subgraph must not contain '/' or start with '@'", node=spec.id,
                               code="bad_id"))
            continue
        if spec.id in nodes:
            own.append(Problem("the node id is used twice", node=spec.id, code="duplicate_id"))
            continue
        nodes[spec.id] = spec

    links = []
    raw_links = raw.get("links", [])
    if not isinstance(raw_links, list):
        own.append(Problem(f'"links" must be a list, got {_kind(raw_links)}', code="bad_type"))
        raw_links = []
    in_names = {i.name for i in inputs}
    out_names = {o.name for o in outputs}
    fed: set = set()
    for i, link_raw in enumerate(raw_links):
        link = _parse_link(link_raw, i, own)
        if link is None:
            continue
        ok = True
        if link.source == INPUTS_NODE:
            if link.output not in in_names:
                own.append(Problem(f"link #{i} comes from declared input {link.output!r}, which is not declared",
                                   node=link.target, input=link.input, code="missing_output"))
                ok = False
        elif link.source == OUTPUTS_NODE or link.source not in nodes:
            own.append(Problem(f"link #{i} comes from node {link.source!r}, which does not exist",
                               node=link.target, input=link.input, code="missing_node"))
            ok = False
        if link.target == OUTPUTS_NODE:
            if link.input not in out_names:
                own.append(Problem(f"link #{i} goes to declared output {link.input!r}, which is not declared",
                                   code="unknown_input"))
                ok = False
        elif link.target == INPUTS_NODE or link.target not in nodes:
            own.append(Problem(f"link #{i} goes to node {link.target!r}, which does not exist", code="missing_node"))
            ok = False
        if ok:
            if (link.target, link.input) in fed:
                own.append(Problem("has more than one link; an input takes exactly one", node=link.target,
                                   input=link.input, code="duplicate_link"))
                continue
            fed.add((link.target, link.input))
            links.append(link)
    for out in outputs:
        if (OUTPUTS_NODE, out.name) not in fed:
            own.append(Problem(f"declared output {out.name!r} is not fed by any link to \"@outputs\"",
                               code="missing_input"))
    for p in own:
        problems.append(_inside(p, where))
    if own:
        return None
    return SubgraphDef(inputs=inputs, outputs=outputs, nodes=nodes, links=links, groups=groups, extra=extra,
                       **texts)


def _inside(problem, where: str):
    """A problem found inside a definition, reworded to say where (definitions have no path ids yet)."""
    from .workflow import Problem

    place = where
    if problem.node is not None:
        place += f", node {problem.node!r}"
        if problem.input is not None:
            place += f", input {problem.input!r}"
    return Problem(f"{place}: {problem.message}", code=problem.code)


def _parse_sockets(raw: dict, key: str, problems: list) -> list:
    from .workflow import Problem, _is_plain_value, _kind, _short

    items = raw.get(key)
    if not isinstance(items, list):
        problems.append(Problem(f'"{key}" must be a list, got {_kind(items)}', code="bad_type"))
        return []
    allowed = INPUT_KEYS if key == "inputs" else OUTPUT_KEYS
    out, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(f"{key} #{i} must be an object, got {_kind(item)}", code="bad_socket"))
            continue
        name, stype = item.get("name"), item.get("type")
        msgs = [f"unknown key {_short(k)}" for k in sorted(set(item) - allowed, key=str)]
        if not isinstance(name, str) or not _SOCKET_NAME.match(name):
            msgs.append(f'"name" must be letters, digits and _ (not starting with a digit), got {_short(name)}')
        elif name in seen:
            msgs.append(f"the name {name!r} is declared twice")
        if not isinstance(stype, str) or not stype:
            msgs.append(f'"type" must be a socket type name, got {_short(stype)}')
        for text_key in ("label", "description"):
            if text_key in item and not isinstance(item[text_key], str):
                msgs.append(f'"{text_key}" must be text')
        if key == "inputs":
            if "optional" in item and not isinstance(item["optional"], bool):
                msgs.append('"optional" must be true or false')
            if "default" in item and not _is_plain_value(item["default"]):
                msgs.append(f'"default" must be a number, text or true/false, got {_kind(item["default"])}')
            widget = item.get("widget")
            if widget is not None:
                msgs += _widget_rule_problems(widget)
        if msgs:
            for m in msgs:
                problems.append(Problem(f"{key} #{i}: {m}", code="bad_socket"))
            continue
        seen.add(name)
        if key == "inputs":
            out.append(SubgraphInput(name=name, type=stype, default=item.get("default"),
                                     optional=item.get("optional", False), widget=item.get("widget"),
                                     label=item.get("label"), description=item.get("description", "")))
        else:
            out.append(SubgraphOutput(name=name, type=stype, label=item.get("label"),
                                      description=item.get("description", "")))
    return out


def _widget_rule_problems(widget: Any) -> list[str]:
    from .workflow import _kind, _short

    if not isinstance(widget, dict):
        return [f'"widget" must be an object of rules, got {_kind(widget)}']
    msgs = [f"unknown widget rule {_short(k)}" for k in sorted(set(widget) - WIDGET_RULES, key=str)]
    for k in ("min", "max", "step"):
        v = widget.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v
                              or v in (float("inf"), float("-inf"))):
            msgs.append(f'widget rule "{k}" must be a number, got {_short(v)}')
    step = widget.get("step")
    if isinstance(step, (int, float)) and not isinstance(step, bool) and step <= 0:
        msgs.append('widget rule "step" must be positive')
    choices = widget.get("choices")
    if choices is not None and (not isinstance(choices, list) or not all(isinstance(c, str) for c in choices)):
        msgs.append('widget rule "choices" must be a list of text')
    for k in ("multiline", "seed"):
        if k in widget and not isinstance(widget[k], bool):
            msgs.append(f'widget rule "{k}" must be true or false')
    return msgs


def check_widget_value(inp: SubgraphInput, value: Any) -> str | None:
    """Why `value` breaks the declared input's type or widget rules, or None."""
    from .workflow import _short

    if not isinstance(value, (bool, int, float, str)):
        return f"expects a number, text or true/false, got {_short(value)}"
    kind = inp.type
    if kind == "INT" and (isinstance(value, bool) or not isinstance(value, (int, float))
                          or (isinstance(value, float) and not value.is_integer())):
        return f"expects a whole number, got {_short(value)}"
    if kind == "FLOAT" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"expects a number, got {_short(value)}"
    if kind == "STRING" and not isinstance(value, str):
        return f"expects text, got {_short(value)}"
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return f"expects true or false, got {_short(value)}"
    rules = inp.widget or {}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = rules.get("min"), rules.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"is {value}, but must be between {lo} and {hi}" if lo is not None and hi is not None else (
                f"is {value}, but must be at least {lo}" if lo is not None else f"is {value}, but must be at most {hi}")
    choices = rules.get("choices")
    if choices is not None and value not in choices:
        return f"is {value!r}, but must be one of {', '.join(map(repr, choices))}"
    return None
