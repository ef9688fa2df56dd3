"""The workflow document: parse, check its structure, migrate, and save it deterministically.

The on-disk format is documented in docs/workflow-format.md with a JSON Schema beside it.
Structure is checked here (every problem collected, never a bare traceback); what needs the node
classes (types, ranges, links, cycles) is checked by `flux_core.graph.validation`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from . import limits

FORMAT = "fluxwire.workflow"
VERSION = 2  # 2 added subgraphs; documents that use none are still written as version 1
TOP_LEVEL_KEYS = {"format", "version", "metadata", "nodes", "links", "groups", "subgraphs", "extra"}
NODE_KEYS = {"id", "type", "version", "widgets", "ui", "properties", "subgraph", "mode"}
NODE_MODES = ("bypass", "mute")  # applied by flux_core.graph.node_modes before checking and running
LINK_KEYS = {"from", "output", "to", "input"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, in words a person can act on."""

    message: str
    node: str | None = None
    input: str | None = None
    code: str = "invalid"

    def to_dict(self) -> dict:
        return {"node": self.node, "input": self.input, "code": self.code, "message": self.message}

    def __str__(self) -> str:
        where = ""
        if self.node is not None:
            where = f"node {self.node!r}"
            if self.input is not None:
                where += f", input {self.input!r}"
            where += ": "
        return where + self.message


class WorkflowError(ValueError):
    """A document that cannot be run, with every problem found in it."""

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}the workflow has {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict:
        return {"error": "invalid_workflow", "source": self.source,
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class NodeSpec:
    id: str
    type: str
    version: int | None = None
    widgets: dict[str, Any] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    subgraph: Any = None  # a `subgraph_document.SubgraphRef` on nodes of type "Subgraph"
    mode: str | None = None  # "bypass" (inputs passed through by type) or "mute" (dropped); see node_modes.py

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "type": self.type, "widgets": self.widgets}
        if self.version is not None:
            d["version"] = self.version
        if self.subgraph is not None:
            d["subgraph"] = self.subgraph.to_dict()
        if self.ui:
            d["ui"] = self.ui
        if self.properties:
            d["properties"] = self.properties
        if self.mode:
            d["mode"] = self.mode
        return d


class Link(NamedTuple):
    """Output `output` of node `source` feeds input `input` of node `target`."""

    source: str
    output: str
    target: str
    input: str

    def to_dict(self) -> dict:
        return {"from": self.source, "output": self.output, "to": self.target, "input": self.input}


@dataclass
class Workflow:
    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    subgraphs: dict[str, Any] = field(default_factory=dict)  # id -> subgraph_document.SubgraphDef
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False, repr=False)  # the file it came from (relative refs)
    expansion: Any = field(default=None, compare=False, repr=False)  # subgraphs.Expansion on expanded copies

    def uses_subgraphs(self) -> bool:
        return bool(self.subgraphs) or any(n.subgraph is not None for n in self.nodes.values())
    # links by target node, built on first use so walking a graph upstream stays linear; rebuilt when
    # `links` is replaced or changes length (links are immutable tuples, so that is every edit made by append/remove)
    _into: tuple[int, int, dict[str, dict[str, Link]]] | None = field(default=None, init=False, repr=False,
                                                                      compare=False)

    def links_into(self, node_id: str) -> dict[str, Link]:
        """The links feeding `node_id`, by input name."""
        key = (id(self.links), len(self.links))
        if self._into is None or self._into[:2] != key:
            index: dict[str, dict[str, Link]] = {}
            for l in self.links:
                index.setdefault(l.target, {})[l.input] = l
            self._into = (*key, index)
        return dict(self._into[2].get(node_id, {}))

    def to_dict(self) -> dict:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION if self.uses_subgraphs() else 1,
            "metadata": self.metadata,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "links": [l.to_dict() for l in sorted(self.links, key=lambda l: (l.target, l.input))],
        }
        if self.groups:
            doc["groups"] = self.groups
        if self.subgraphs:
            doc["subgraphs"] = {k: d.to_dict() for k, d in self.subgraphs.items()}
        if self.extra:
            doc["extra"] = self.extra
        return doc


# ----------------------------------------------------------------------------- parsing

def parse_document(data: Any, source: str | None = None) -> Workflow:
    """Check the structure of a decoded JSON document and build a `Workflow`; raise WorkflowError."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise WorkflowError([Problem(f"a workflow is a JSON object, got {_kind(data)}", code="not_an_object")],
                            source)
    _check_limits(data, source)
    if "format" not in data:
        from ..interop.comfyui import comfyui_to_document, detect

        if detect(data) is not None:  # ComfyUI API prompt or UI workflow: converted, then checked as ours
            return parse_document(comfyui_to_document(data, source), source)
    if data.get("format") == "fluxwire.subgraph":
        raise WorkflowError([Problem("this is a subgraph file; use it from a workflow through a node of type "
                                     '"Subgraph" with "subgraph": {"file": ...} or {"library": ...}',
                                     code="subgraph_file")], source)
    if data.get("format") != FORMAT:
        problems.append(Problem(f'"format" must be "{FORMAT}", got {_short(data.get("format"))}',
                                code="bad_format"))
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        problems.append(Problem(f'"version" must be an integer, got {_short(version)}', code="bad_version"))
    elif version > VERSION:
        problems.append(Problem(f"document version {version} is newer than this fluxwire understands "
                                f"({VERSION}); update fluxwire", code="newer_version"))
    elif version < 1:
        problems.append(Problem(f'"version" must be at least 1, got {version}', code="bad_version"))
    for key in sorted(set(data) - TOP_LEVEL_KEYS, key=str):
        problems.append(Problem(f"unknown top-level key {_short(key)} (free data belongs in \"extra\")",
                                code="unknown_key"))

    metadata = _expect(data, "metadata", dict, {}, problems)
    groups = _expect(data, "groups", list, [], problems)
    subgraphs = _expect(data, "subgraphs", dict, {}, problems)
    extra = _expect(data, "extra", dict, {}, problems)
    for i, g in enumerate(groups):
        if not isinstance(g, dict):
            problems.append(Problem(f"group #{i} must be an object, got {_kind(g)}", code="bad_group"))
    if subgraphs:
        from .subgraph_document import parse_definitions

        subgraphs = parse_definitions(subgraphs, problems)

    nodes: dict[str, NodeSpec] = {}
    raw_nodes = data.get("nodes")
    if raw_nodes is None:
        problems.append(Problem('missing "nodes" (a list of node objects)', code="missing_field"))
        raw_nodes = []
    elif not isinstance(raw_nodes, list):
        problems.append(Problem(f'"nodes" must be a list, got {_kind(raw_nodes)}', code="bad_type"))
        raw_nodes = []
    for i, raw in enumerate(raw_nodes):
        spec = _parse_node(raw, i, problems)
        if spec is None:
            continue
        if spec.id in nodes:
            problems.append(Problem("the node id is used twice", node=spec.id, code="duplicate_id"))
            continue
        nodes[spec.id] = spec

    links: list[Link] = []
    for i, raw in enumerate(_expect(data, "links", list, [], problems)):
        link = _parse_link(raw, i, problems)
        if link is None:
            continue
        bad = False
        for end, nid in (("from", link.source), ("to", link.target)):
            if nid not in nodes:
                problems.append(Problem(f'link #{i} goes {end} node {nid!r}, which does not exist',
                                        node=link.target if end == "from" else None,
                                        input=link.input if end == "from" else None, code="missing_node"))
                bad = True
        if not bad:
            links.append(link)
    seen: dict[tuple[str, str], Link] = {}
    for link in links:
        key = (link.target, link.input)
        if key in seen:
            problems.append(Problem("has more than one link; an input takes exactly one",
                                    node=link.target, input=link.input, code="duplicate_link"))
        seen[key] = link
    if problems:
        raise WorkflowError(problems, source)
    return Workflow(nodes=nodes, links=links, metadata=metadata, groups=groups, subgraphs=subgraphs, extra=extra)


def _check_limits(data: dict, source: str | None) -> None:
    """Sizes first (cheap counts), then every value once: a document that breaks a limit goes no further."""
    problems = []
    for key, most in (("nodes", limits.MAX_NODES), ("links", limits.MAX_LINKS)):
        if isinstance(data.get(key), list) and len(data[key]) > most:
            problems.append(Problem(f'the document has {len(data[key]):,} {key}; at most {most:,} are allowed',
                                    code="too_large"))
    if problems:
        raise WorkflowError(problems, source)
    for path, message in limits.value_problems(data):
        node, inp = _owner(data, path)
        problems.append(Problem(f"{limits.path_text(path)} {message}", node=node, input=inp, code="limit"))
    if problems:
        raise WorkflowError(problems, source)


def _owner(data: dict, path: tuple) -> tuple[str | None, str | None]:
    """The node (and widget input) a value at `path` belongs to, when the document says so."""
    if len(path) >= 2 and path[0] in ("nodes", "links") and isinstance(path[1], int):
        try:
            item = data[path[0]][path[1]]
        except (IndexError, KeyError, TypeError):
            return None, None
        if not isinstance(item, dict):
            return None, None
        if path[0] == "links":
            to, inp = item.get("to"), item.get("input")
            return (to if isinstance(to, str) else None), (inp if isinstance(inp, str) else None)
        nid = item.get("id") if isinstance(item.get("id"), str) else None
        if len(path) >= 4 and path[2] == "widgets" and isinstance(path[3], str):
            return nid, path[3]
        return nid, None
    return None, None


def _parse_node(raw: Any, index: int, problems: list[Problem]) -> NodeSpec | None:
    if not isinstance(raw, dict):
        problems.append(Problem(f"node #{index} must be an object, got {_kind(raw)}", code="bad_node"))
        return None
    nid = raw.get("id")
    if not isinstance(nid, str) or not nid:
        problems.append(Problem(f"node #{index} needs an \"id\" that is a non-empty string, got {_short(nid)}",
                                code="bad_id"))
        return None
    ntype = raw.get("type")
    if not isinstance(ntype, str) or not ntype:
        problems.append(Problem(f'"type" must be a non-empty string, got {_short(ntype)}', node=nid,
                                code="bad_type"))
    version = raw.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        problems.append(Problem(f'"version" must be a positive integer, got {_short(version)}', node=nid,
                                code="bad_version"))
    unknown = raw.keys() - NODE_KEYS
    for key in sorted(unknown, key=str) if unknown else ():
        problems.append(Problem(f"unknown key {_short(key)} in the node (free data belongs in \"properties\")",
                                node=nid, code="unknown_key"))
    parts = {}
    for key in ("widgets", "ui", "properties"):
        value = raw.get(key, {})
        if not isinstance(value, dict):
            problems.append(Problem(f'"{key}" must be an object, got {_kind(value)}', node=nid, code="bad_type"))
        parts[key] = value if isinstance(value, dict) else {}
    for name, value in parts["widgets"].items():
        if type(value) not in _SIMPLE and not _is_plain_value(value):
            problems.append(Problem(f"widget values are numbers, text or true/false, got {_kind(value)}",
                                    node=nid, input=name, code="bad_value"))
    ref = None
    if "subgraph" in raw or ntype == "Subgraph":
        from .subgraph_document import SUBGRAPH_TYPE, parse_ref

        if ntype != SUBGRAPH_TYPE:
            problems.append(Problem(f'only nodes of type "{SUBGRAPH_TYPE}" have a "subgraph" reference', node=nid,
                                    code="bad_subgraph_ref"))
        elif "subgraph" not in raw:
            problems.append(Problem('a "Subgraph" node needs "subgraph": {"id" | "file" | "library": ...}',
                                    node=nid, code="bad_subgraph_ref"))
        else:
            ref = parse_ref(raw["subgraph"], nid, problems)
            if version is not None:
                problems.append(Problem('a "Subgraph" node has no "version"', node=nid, code="bad_version"))
    mode = raw.get("mode")
    if mode is not None and mode not in NODE_MODES:
        problems.append(Problem(f'"mode" is "bypass" or "mute", got {_short(mode)}', node=nid, code="bad_mode"))
    # a node with problems is still returned, so duplicate ids and links to it are judged correctly
    return NodeSpec(id=nid, type=ntype if isinstance(ntype, str) else "",
                    version=version if isinstance(version, int) else None,
                    widgets=dict(parts["widgets"]), ui=parts["ui"], properties=parts["properties"], subgraph=ref,
                    mode=mode if mode in NODE_MODES else None)


_SIMPLE = {bool, int, str, type(None)}


def _parse_link(raw: Any, index: int, problems: list[Problem]) -> Link | None:
    if type(raw) is dict and len(raw) == 4:  # the common, well-formed case, checked cheaply
        link = Link(raw.get("from"), raw.get("output"), raw.get("to"), raw.get("input"))
        if all(type(v) is str and v for v in link):
            return link
    if not isinstance(raw, dict):
        problems.append(Problem(f"link #{index} must be an object, got {_kind(raw)}", code="bad_link"))
        return None
    missing = [k for k in ("from", "output", "to", "input") if not isinstance(raw.get(k), str) or not raw.get(k)]
    extra = sorted(set(raw) - LINK_KEYS, key=str)
    if missing or extra:
        what = []
        if missing:
            what.append("needs non-empty text for " + ", ".join(f'"{k}"' for k in missing))
        if extra:
            what.append("has unknown keys " + ", ".join(_short(k) for k in extra))
        target = raw.get("to") if isinstance(raw.get("to"), str) else None
        problems.append(Problem(f"link #{index} " + " and ".join(what), node=target,
                                input=raw.get("input") if isinstance(raw.get("input"), str) else None,
                                code="bad_link"))
        return None
    return Link(raw["from"], raw["output"], raw["to"], raw["input"])


def _expect(data: dict, key: str, kind: type, default, problems: list[Problem]):
    value = data.get(key, default)
    if not isinstance(value, kind):
        problems.append(Problem(f'"{key}" must be {"an object" if kind is dict else "a list"}, got {_kind(value)}',
                                code="bad_type"))
        return default
    return value


def _is_plain_value(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return False


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------- reading and writing

def loads_document(text: str | bytes, source: str | None = None) -> Workflow:
    """Parse JSON text into a `Workflow` (structure only)."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.MAX_DOCUMENT_BYTES:
        raise WorkflowError([Problem(f"the document is {size:,} bytes; at most {limits.MAX_DOCUMENT_BYTES:,} are "
                                     f"allowed", code="too_large")], source)
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text, parse_int=limits.json_int, parse_float=limits.json_float,
                          parse_constant=limits.json_constant)
    except limits.LimitExceeded as e:
        raise WorkflowError([Problem(f"the document holds {e}", code="limit")], source) from None
    except UnicodeDecodeError as e:
        raise WorkflowError([Problem(f"the file is not UTF-8 text ({e.reason} at byte {e.start})",
                                     code="not_json")], source) from None
    except json.JSONDecodeError as e:
        raise WorkflowError([Problem(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
                                     code="not_json")], source) from None
    except RecursionError:
        raise WorkflowError([Problem(f"the document is nested too deeply (at most {limits.MAX_DEPTH} levels)",
                                     code="limit")], source) from None
    return parse_document(data, source)


def read_document(path: str | os.PathLike) -> Workflow:
    path = Path(path)
    try:
        os.fsencode(path)  # a name the file system cannot hold (a NUL, a lone surrogate) is refused, not raised
        if "\0" in str(path):
            raise ValueError("embedded null character")
    except ValueError as e:
        raise WorkflowError([Problem(f"cannot read the file: {str(path)!r} is not a valid file name ({e})",
                                     code="unreadable")], repr(str(path))) from None
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            most = limits.MAX_PNG_BYTES if head == b"\x89PNG\r\n\x1a\n" else limits.MAX_DOCUMENT_BYTES
            if size > most:
                raise WorkflowError([Problem(f"the file is {size:,} bytes; at most {most:,} are read as a "
                                             f"{'picture' if most == limits.MAX_PNG_BYTES else 'document'}",
                                             code="too_large")], str(path))
            raw = head + f.read(max(size - len(head), 0))  # read(n) reserves n bytes: ask for what is there
    except OSError as e:
        raise WorkflowError([Problem(f"cannot read the file: {e.strerror or e}", code="unreadable")],
                            str(path)) from None
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        from ..pnginfo import workflow_text_from_png

        text = workflow_text_from_png(raw, str(path))
        workflow = loads_document(text, str(path))
    else:
        workflow = loads_document(raw, str(path))
    workflow.path = path
    return workflow


def dumps_document(workflow: Workflow | dict) -> str:
    """Deterministic text: sorted keys, 2-space indent, trailing newline, so documents diff well."""
    doc = workflow.to_dict() if isinstance(workflow, Workflow) else workflow
    # allow_nan=False: a NaN put in by code after loading fails the save instead of writing a file that is not JSON
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def save_document(workflow: Workflow | dict, path: str | os.PathLike) -> Path:
    """Write whole or not at all (see `flux_core.files.replace_file`): temp file, fsync, rename over the target."""
    from ..files import replace_file

    return replace_file(path, dumps_document(workflow).encode("utf-8"))
