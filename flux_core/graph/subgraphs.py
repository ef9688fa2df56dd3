"""Expand subgraph instances into plain nodes with path ids, before anything else is checked.

An instance ``t2i`` whose definition holds node ``sampler`` becomes the node ``t2i/sampler`` (nested:
``a/b/c``). Everything after expansion — validation, caching, events, timings, ``result.outputs`` — sees
only plain nodes, so a failure names the real inner node and input, and caching through subgraphs is the
same as without them (signatures never use ids). References are resolved here: embedded definitions by
id, files relative to the document that names them, library entries by name; a definition that contains
itself through any of these is reported as a cycle naming the chain, never followed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .subgraph_document import INPUTS_NODE, OUTPUTS_NODE, SubgraphDef, SubgraphRef, check_widget_value
from .node_modes import definition_modes
from .subgraph_files import LoadedFile, Scope, load_subgraph_file
from .types import why_not
from .workflow import Link, NodeSpec, Problem, Workflow, WorkflowError

MAX_DEPTH = 32  # instances inside instances; deeper is surely a mistake (cycles are caught before this)


@dataclass
class Expansion:
    """What a flat workflow was made from, kept on `Workflow.expansion`."""

    document: Workflow | None  # the document as written (instance overrides applied); None: not representable
    files: dict[Path, tuple[int, int]] = field(default_factory=dict)  # referenced file -> (mtime_ns, size)
    instances: dict[str, str] = field(default_factory=dict)  # instance path id -> what it uses (a label)

    def files_unchanged(self) -> bool:
        """True while no referenced file changed since the expansion (so a remembered check still holds)."""
        return all(_stamp(p) == stamp for p, stamp in self.files.items())


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
        return st.st_mtime_ns, st.st_size
    except OSError:
        return -1, -1


# ----------------------------------------------------------------------------- expansion

Source = tuple  # ("node", flat id, output) | ("value", value); None: nothing (the inner node's own value)


def expand(workflow: Workflow, registry=None, library=None, overrides: dict | None = None
           ) -> tuple[Workflow, dict | None]:
    """A flat copy of `workflow` and the overrides left for plain nodes; raise WorkflowError.

    Overrides whose node part is an instance path set that instance's promoted widgets; the rest
    (``a/b.seed``, plain ``noise.seed``) are returned for the executor to apply to the flat nodes.
    """
    if not workflow.uses_subgraphs() or workflow.expansion is not None:
        return workflow, overrides
    if library is None:
        from .library import Library

        library = Library()
    ex = _Expander(registry, library, overrides or {})
    folder = workflow.path.resolve().parent if workflow.path is not None else Path.cwd()
    top = Scope(workflow.subgraphs, folder, key="<document>")
    ex.expand_level(workflow.nodes, workflow.links, "", {}, top, [])
    if ex.problems:
        raise WorkflowError(ex.problems)
    leftover = {k: v for k, v in (overrides or {}).items() if k not in ex.used_overrides}
    inner_override = any(str(k).rpartition(".")[0] not in workflow.nodes for k in leftover)
    document = None if inner_override else _with_instance_overrides(workflow, ex.instance_values)
    flat = Workflow(nodes=ex.nodes, links=ex.links, metadata=workflow.metadata, groups=workflow.groups,
                    extra=workflow.extra, path=workflow.path,
                    expansion=Expansion(document=document, files=ex.files, instances=ex.instances))
    return flat, leftover if overrides is not None else None


def _with_instance_overrides(workflow: Workflow, values: dict[str, dict]) -> Workflow:
    changed = {nid: v for nid, v in values.items() if nid in workflow.nodes
               and v != workflow.nodes[nid].widgets}
    if not changed:
        return workflow
    nodes = dict(workflow.nodes)
    for nid, widgets in changed.items():
        nodes[nid] = dataclasses.replace(nodes[nid], widgets=dict(widgets))
    return dataclasses.replace(workflow, nodes=nodes)


class _Expander:
    def __init__(self, registry, library, overrides: dict):
        self.registry, self.library, self.overrides = registry, library, overrides
        self.nodes: dict[str, NodeSpec] = {}
        self.links: list[Link] = []
        self.problems: list[Problem] = []
        self.files: dict[Path, tuple[int, int]] = {}
        self.loaded: dict[Path, LoadedFile | WorkflowError] = {}
        self.instances: dict[str, str] = {}
        self.instance_values: dict[str, dict] = {}
        self.used_overrides: set = set()
        self._orders: dict[int, tuple] = {}
        self._boundary_checked: set[int] = set()  # definitions whose declared types fit their inside
        self._modes: dict[int, tuple[dict, list]] = {}  # definition -> its inside with node modes applied
        self._by_node: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            nid, dot, name = str(key).rpartition(".")
            if dot:
                self._by_node.setdefault(nid, {})[name] = (key, value)

    # --- one level of nodes (the document, or the inside of one instance) -------------------
    def expand_level(self, nodes: dict[str, NodeSpec], links: list[Link], prefix: str,
                     inputs: dict[str, Source | None], scope: Scope, chain: list) -> dict[str, Source | None]:
        key = id(nodes)  # a definition's order is the same for every instance of it
        if key not in self._orders:
            self._orders[key] = _order(nodes, links)
        order, cycle = self._orders[key]
        if cycle:
            self.problems.append(Problem("the links form a cycle through nodes "
                                         + " -> ".join(repr(prefix + n) for n in cycle),
                                         node=prefix + cycle[0], code="cycle"))
            return {}
        into: dict[str, dict[str, Link]] = {}
        for l in links:
            into.setdefault(l.target, {})[l.input] = l
        produced: dict[str, dict[str, Source | None]] = {}  # instance id -> its outputs
        for nid in order:
            spec, path = nodes[nid], prefix + nid
            if spec.subgraph is None:
                if path in self.nodes:
                    self.problems.append(Problem(f"the node id {path!r} is used twice after expanding subgraphs "
                                                 "(ids with '/' are path ids of nodes inside subgraphs)",
                                                 node=path, code="duplicate_id"))
                    continue
                self.nodes[path] = NodeSpec(id=path, type=spec.type, version=spec.version, widgets=dict(spec.widgets),
                                            ui=spec.ui, properties=spec.properties)
                continue
            given = {name: self._source(l, prefix, inputs, nodes, produced) for name, l in into.get(nid, {}).items()}
            produced[nid] = self.expand_instance(spec, path, given, into.get(nid, {}), prefix, scope, chain)
        outputs: dict[str, Source | None] = {}
        for l in links:
            if l.target == OUTPUTS_NODE:
                outputs[l.input] = self._source(l, prefix, inputs, nodes, produced)
            elif l.target in nodes and nodes[l.target].subgraph is None and prefix + l.target in self.nodes:
                self._connect(self._source(l, prefix, inputs, nodes, produced), prefix + l.target, l.input)
        return outputs

    def _source(self, link: Link, prefix: str, inputs, nodes, produced) -> Source | None:
        if link.source == INPUTS_NODE:
            return inputs.get(link.output)
        spec = nodes.get(link.source)
        if spec is not None and spec.subgraph is not None:
            outs = produced.get(link.source)
            if outs is None:
                return None  # the instance could not be expanded; already reported
            if link.output not in outs:
                where = prefix + link.target if link.target != OUTPUTS_NODE else prefix.rstrip("/")
                self.problems.append(Problem(f"is linked from output {link.output!r} of subgraph instance "
                                             f"{prefix + link.source!r}, which has no such output "
                                             f"(it has: {', '.join(outs) or 'none'})",
                                             node=where, input=link.input, code="missing_output"))
                return None
            return outs[link.output]
        return ("node", prefix + link.source, link.output)

    def _connect(self, source: Source | None, target: str, input_name: str) -> None:
        if source is None:
            return  # nothing given: the inner node keeps its own value (or reports the missing link)
        if source[0] == "node":
            self.links.append(Link(source[1], source[2], target, input_name))
        else:
            spec = self.nodes[target]
            spec.widgets[input_name] = source[1]

    # --- one instance ------------------------------------------------------------------------
    def expand_instance(self, spec: NodeSpec, path: str, given: dict, given_links: dict, prefix: str,
                        scope: Scope, chain: list) -> dict | None:
        found = self._resolve(spec.subgraph, path, scope)
        if found is None:
            return None
        definition, inner_scope, key, label = found
        keys = [k for k, _ in chain]
        if key in keys:
            names = [lab for _, lab in chain[keys.index(key):]] + [label]
            self.problems.append(Problem("the subgraph contains itself: " + " -> ".join(names), node=path,
                                         code="subgraph_cycle"))
            return None
        if len(chain) >= MAX_DEPTH:
            self.problems.append(Problem(f"subgraphs are nested more than {MAX_DEPTH} deep", node=path,
                                         code="too_deep"))
            return None
        self.instances[path] = label
        widgets = dict(spec.widgets)
        for name, (okey, value) in self._by_node.get(path, {}).items():
            inp = definition.input(name)
            self.used_overrides.add(okey)
            if inp is None:
                self.problems.append(Problem(f"override {okey!r}: the subgraph has no input named {name!r}",
                                             node=path, input=name, code="bad_override"))
                continue
            if isinstance(value, str) and inp.type != "STRING":
                try:
                    value = _parse_text(inp.type, value)
                except ValueError as e:
                    self.problems.append(Problem(str(e), node=path, input=name, code="bad_value"))
                    continue
            widgets[name] = value
        self.instance_values[path] = widgets
        declared = [i.name for i in definition.inputs]
        for name in list(widgets) + [n for n in given if n not in widgets]:
            if definition.input(name) is None:
                self.problems.append(Problem(f"the subgraph {label} has no input named {name!r} (it has: "
                                             f"{', '.join(declared) or 'none'})", node=path, input=name,
                                             code="unknown_input"))
        inputs: dict[str, Source | None] = {}
        for inp in definition.inputs:
            if given.get(inp.name) is not None:
                inputs[inp.name] = given[inp.name]
                self._check_link_type(given[inp.name], inp.type, path, inp.name)
                continue
            value = widgets.get(inp.name)
            if value is None:
                value = inp.default
            if value is not None:
                why = check_widget_value(inp, value)
                if why:
                    self.problems.append(Problem(why, node=path, input=inp.name, code="bad_value"))
                inputs[inp.name] = ("value", value)
            else:
                if inp.widget is None and not inp.optional:
                    self.problems.append(Problem(f"is not connected; it needs a {inp.type} input", node=path,
                                                 input=inp.name, code="missing_input"))
                inputs[inp.name] = None
        before = len(self.problems)
        inner_nodes, inner_links = self._moded(definition, inner_scope)
        outputs = self.expand_level(inner_nodes, inner_links, path + "/", inputs, inner_scope,
                                    chain + [(key, label)])
        if len(self.problems) == before and id(definition) not in self._boundary_checked:
            self._check_boundary_types(definition, path)
            if len(self.problems) == before:
                self._boundary_checked.add(id(definition))
        return outputs

    def _moded(self, definition: SubgraphDef, scope: Scope) -> tuple[dict, list]:
        """The definition's inside with its bypassed and muted nodes applied, once per definition."""
        if id(definition) not in self._modes:
            self._modes[id(definition)] = definition_modes(definition, self.registry, scope.definitions)
        return self._modes[id(definition)]

    def _resolve(self, ref: SubgraphRef, path: str, scope: Scope):
        """(definition, its scope, identity for cycle checks, label) or None after reporting why."""
        if ref.id is not None:
            definition = scope.definitions.get(ref.id)
            if definition is None:
                where = f" in {scope.source}" if scope.source else ""
                known = ", ".join(repr(k) for k in scope.definitions) or "none"
                self.problems.append(Problem(f"uses subgraph {ref.id!r}, which is not defined{where} "
                                             f"(defined: {known})", node=path, code="missing_subgraph"))
                return None
            label = repr(ref.id) if scope.source is None else f"{scope.source}#{ref.id}"
            return definition, scope, f"{scope.key}#{ref.id}", label
        if ref.file is not None:
            if scope.folder is None:
                self.problems.append(Problem(f"uses the file {ref.file!r}, but the document has no folder",
                                             node=path, code="missing_subgraph"))
                return None
            file_path = (scope.folder / ref.file).resolve()
            label = f"file {ref.file!r}"
        else:
            file_path = self.library.find(ref.library)
            label = f"library {ref.library!r}"
            if file_path is None:
                folders = ", ".join(str(f) for f in self.library.folders)
                self.problems.append(Problem(f"uses the library entry {ref.library!r}, which is not in the "
                                             f"library (looked in: {folders})", node=path, code="missing_subgraph"))
                return None
            file_path = file_path.resolve()
        loaded = self._load(file_path)
        if isinstance(loaded, WorkflowError):
            if all(p.code == "missing_subgraph" for p in loaded.problems) and not file_path.exists():
                self.problems.append(Problem(f"uses the subgraph file {str(file_path)!r}, which does not exist",
                                             node=path, code="missing_subgraph"))
            else:
                self.problems += [Problem(f"in {label} ({file_path}): {p}", node=path, code=p.code)
                                  for p in loaded.problems]
            return None
        if ref.revision is not None and ref.revision != loaded.revision and ref.sockets is not None:
            reasons = _incompatible(ref.sockets, loaded.definition.sockets())
            if reasons:
                self.problems.append(Problem(f"{label} changed since this instance was made and no longer fits: "
                                             + "; ".join(reasons), node=path, code="incompatible_subgraph"))
                return None
        return loaded.definition, loaded.scope, str(file_path), label

    def _load(self, path: Path) -> LoadedFile | WorkflowError:
        if path not in self.loaded:
            self.files[path] = _stamp(path)
            try:
                self.loaded[path] = load_subgraph_file(path)
            except WorkflowError as e:
                self.loaded[path] = e
        return self.loaded[path]

    # --- socket types at the boundary (needs the node classes) ------------------------------
    def _output_type(self, source: Source | None) -> str | None:
        if self.registry is None or source is None or source[0] != "node" or source[1] not in self.nodes:
            return None
        cls = self.registry.get(self.nodes[source[1]].type)
        out = cls.output(source[2]) if cls is not None else None
        return out.type if out is not None else None

    def _check_link_type(self, source, declared: str, path: str, name: str) -> None:
        got = self._output_type(source)
        reason = why_not(got, declared) if got is not None else None
        if reason:
            self.problems.append(Problem(f"is linked from {source[1]!r}.{source[2]}, but {reason}", node=path,
                                         input=name, code="type_mismatch"))

    def _check_boundary_types(self, definition: SubgraphDef, path: str) -> None:
        if self.registry is None:
            return
        for l in definition.links:
            if l.source == INPUTS_NODE and l.target != OUTPUTS_NODE:
                inner = definition.nodes[l.target]
                cls = self.registry.get(inner.type) if inner.subgraph is None else None
                inp = cls.input(l.input) if cls is not None else None
                declared = definition.input(l.output)
                if inp is not None and declared is not None:
                    reason = why_not(declared.type, inp.type)
                    if reason:
                        self.problems.append(Problem(f"declared input {l.output!r} is {declared.type}, but it "
                                                     f"feeds {l.input!r} of {inner.type}: {reason}",
                                                     node=f"{path}/{l.target}", input=l.input, code="type_mismatch"))
            elif l.target == OUTPUTS_NODE and l.source != INPUTS_NODE:
                got = self._output_type(("node", f"{path}/{l.source}", l.output))
                declared = definition.output(l.input)
                if got is not None and declared is not None and why_not(got, declared.type):
                    self.problems.append(Problem(f"declared output {l.input!r} is {declared.type}, but it is fed by "
                                                 f"{l.source!r}.{l.output} ({got})", node=path, code="type_mismatch"))


def _incompatible(recorded: dict, current: dict) -> list[str]:
    """Why sockets an instance was made against no longer exist or changed type."""
    reasons = []
    for side in ("inputs", "outputs"):
        now = current.get(side, {})
        for name, stype in (recorded.get(side) or {}).items():
            if name not in now:
                reasons.append(f"{side[:-1]} {name!r} was removed or renamed")
            elif now[name] != stype:
                reasons.append(f"{side[:-1]} {name!r} changed type from {stype} to {now[name]}")
    return reasons


def _parse_text(kind: str, text: str) -> Any:
    try:
        if kind == "INT":
            return int(text, 0)
        if kind == "FLOAT":
            return float(text)
    except ValueError:
        raise ValueError(f"expects a {'whole ' if kind == 'INT' else ''}number, got {text!r}") from None
    if kind == "BOOLEAN":
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expects true or false, got {text!r}")
    return text


def _order(nodes: dict[str, NodeSpec], links: list[Link]) -> tuple[list[str], list[str] | None]:
    """Dependencies first (author's order among equals), or one cycle's node ids."""
    deps: dict[str, set[str]] = {nid: set() for nid in nodes}
    for l in links:
        if l.source in deps and l.target in deps:
            deps[l.target].add(l.source)
    order, state = [], {}
    for start in nodes:
        if start in state:
            continue
        stack = [(start, iter(sorted(deps[start])))]
        state[start] = 1
        while stack:
            nid, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[nid] = 2
                order.append(nid)
            elif state.get(nxt) == 1:
                ids = [n for n, _ in stack]
                cycle = ids[ids.index(nxt):]
                return order, cycle + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(deps[nxt]))))
    return order, None


def expand_for_check(workflow: Workflow, registry=None, env=None) -> Workflow:
    """What `validation.check` runs on: the flat workflow (the same object when there is nothing to expand)."""
    if not workflow.uses_subgraphs() or workflow.expansion is not None:
        return workflow
    from .library import Library

    flat, _ = expand(workflow, registry, Library(getattr(env, "library_dir", None)))
    return flat
