"""Subgraphs described like node classes, for `fluxwire nodes --json` and the canvas palette.

An instance's sockets are the definition's declared inputs and outputs; an input that acts as a widget
takes its rules from the declaration and, where the declaration leaves a rule out, from the inner widget
it feeds, so the instance shows the same slider or list the inner node would.
"""
from __future__ import annotations

from typing import Any

from .subgraph_document import INPUTS_NODE, OUTPUTS_NODE, SUBGRAPH_TYPE, SubgraphDef
from .workflow import WorkflowError

_KIND = {"INT": "int", "FLOAT": "float", "STRING": "string", "BOOLEAN": "boolean"}


def describe_definition(definition: SubgraphDef, registry=None, ctx: Any = None, *, ref: dict | None = None,
                        pack: str = "subgraphs") -> dict:
    """The same shape as `Node.describe()`, plus `subgraph` (the reference an instance uses)."""
    inner = _inner_widgets(definition, registry, ctx)
    inputs = []
    for inp in definition.inputs:
        d = {"name": inp.name, "type": inp.type, "optional": inp.optional, "widget": None,
             "description": inp.description, "label": inp.label or inp.name.replace("_", " ")}
        target = inner.get(inp.name)
        if inp.widget is not None or (target is not None and inp.type in _KIND):
            widget = dict(target or {})
            widget.setdefault("kind", _KIND.get(inp.type, "string"))
            for rule, value in (inp.widget or {}).items():
                widget[rule] = value
            if (inp.widget or {}).get("choices") is not None:
                widget["kind"] = "combo"
            if inp.default is not None:
                widget["default"] = inp.default
            d["widget"] = widget
        inputs.append(d)
    return {
        "type": SUBGRAPH_TYPE,
        "display_name": definition.name or (ref or {}).get("library") or (ref or {}).get("id") or "Subgraph",
        "category": definition.category or "subgraphs",
        "description": definition.description,
        "version": 1,
        "pack": pack,
        "output_node": _has_output_node(definition, registry),
        "inputs": inputs,
        "outputs": [{"name": o.name, "type": o.type, "description": o.description,
                     "label": o.label or o.name.replace("_", " ")} for o in definition.outputs],
        "subgraph": dict(ref or {}),
    }


def _inner_widgets(definition: SubgraphDef, registry, ctx) -> dict[str, dict]:
    """Declared input -> the widget description of the first inner widget it feeds (with its value there)."""
    found: dict[str, dict] = {}
    if registry is None:
        return found
    for l in definition.links:
        if l.source != INPUTS_NODE or l.target == OUTPUTS_NODE or l.output in found:
            continue
        spec = definition.nodes.get(l.target)
        cls = registry.get(spec.type) if spec is not None else None
        inp = cls.input(l.input) if cls is not None else None
        if inp is not None and inp.is_widget:
            try:
                widget = dict(inp.widget_description(ctx))
            except Exception:  # a choices callable that fails without an environment
                widget = {"kind": inp.widget_kind}
            if spec.widgets.get(l.input) is not None:
                widget["default"] = spec.widgets[l.input]
            found[l.output] = widget
    return found


def _has_output_node(definition: SubgraphDef, registry) -> bool:
    if registry is None:
        return False
    return any((cls := registry.get(n.type)) is not None and cls.output_node
               for n in definition.nodes.values() if n.subgraph is None)


def library_catalogue(library, registry=None, ctx: Any = None) -> tuple[list[dict], list[str]]:
    """Every library entry described as a node, and a sentence per entry that cannot be read."""
    from .subgraph_files import load_subgraph_file

    nodes, problems = [], []
    for name, path in library.entries().items():
        try:
            loaded = load_subgraph_file(path)
        except WorkflowError as e:
            problems.append(f"library entry {name!r} cannot be read: {e}")
            continue
        ref = {"library": name, "revision": loaded.revision, "sockets": loaded.definition.sockets()}
        entry = describe_definition(loaded.definition, registry, ctx, ref=ref, pack="library")
        # the inside, so the canvas can open, copy or unpack an instance without asking again
        entry["definition"] = loaded.definition.to_dict()
        entry["definitions"] = {k: d.to_dict() for k, d in loaded.scope.definitions.items()}
        nodes.append(entry)
    return nodes, problems
