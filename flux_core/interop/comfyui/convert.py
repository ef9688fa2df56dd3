"""A `ComfyGraph` turned into a fluxwire document (a plain dict, checked afterwards like any document).

Every ComfyUI class must have a twin in the table; the ones that do not are all reported at once, each
with its node id, title and whether fluxwire has an equivalent, and nothing is silently dropped. Node ids
stay ComfyUI's, so messages about a converted document point at the same nodes as in ComfyUI.
"""
from __future__ import annotations

from typing import Any

from ...workflow import FORMAT, VERSION, Problem
from .graph import ComfyGraph, ComfyNode, Ref, describe
from .table import BY_CLASS, NOT_FOR_FLUX1, Twin, family_of

# properties.models "directory" values and fluxwire's folder kinds
_FOLDER_OF = {"diffusion_models": "diffusion_models", "unet": "diffusion_models", "text_encoders": "text_encoders",
              "clip": "text_encoders", "vae": "vae", "checkpoints": "checkpoints", "loras": "loras"}


def _available(twin: Twin, registry) -> bool:
    return not twin.when_registered or registry is None or twin.node in registry


def unsupported(graph: ComfyGraph, registry) -> list[Problem]:
    """One problem per node fluxwire cannot run, all at once."""
    problems = []
    for node in graph.nodes.values():
        twin = BY_CLASS.get(node.cls)
        family = family_of(node.cls, node.inputs)
        if family is not None:
            problems.append(Problem(f"{describe(node)} belongs to {family}; fluxwire runs FLUX.1 only",
                                    node=node.id, code="other_model_family"))
        elif node.cls in NOT_FOR_FLUX1:
            problems.append(Problem(f"{describe(node)} cannot run: {NOT_FOR_FLUX1[node.cls]}", node=node.id,
                                    code="unsupported_class"))
        elif twin is None:
            problems.append(Problem(f"{describe(node)} is a ComfyUI node fluxwire has no equivalent for",
                                    node=node.id, code="unsupported_class"))
        elif not _available(twin, registry):
            problems.append(Problem(f"{describe(node)} maps to fluxwire's {twin.node}, which is not installed "
                                    "(its node pack is missing)", node=node.id, code="unsupported_class"))
    return problems


def _model_name(value: Any) -> Any:
    """ComfyUI names use the separator of the machine that saved them; fluxwire's use "/"."""
    return value.replace("\\", "/") if isinstance(value, str) else value


def _node(node: ComfyNode, twin: Twin, graph: ComfyGraph, links: list[dict], problems: list[Problem]) -> dict:
    widgets: dict[str, Any] = {}
    known = set(twin.comfy_inputs)
    for name, value in node.inputs.items():
        if name in twin.ignore:
            continue
        target = twin.fluxwire_input(name)
        if isinstance(value, Ref):
            source = graph.nodes.get(value.node)
            if source is None:
                problems.append(Problem(f"input {name!r} of {describe(node)} is linked to node {value.node}, which "
                                        "is not in the workflow", node=node.id, input=target, code="missing_node"))
                continue
            source_twin = BY_CLASS.get(source.cls)
            if source_twin is None:
                continue  # the source is reported as unsupported already
            output = source_twin.outputs[value.slot] if value.slot < len(source_twin.outputs) else None
            if output is None:
                problems.append(Problem(f"input {name!r} of {describe(node)} uses output {value.slot} of "
                                        f"{describe(source)}, which fluxwire does not provide",
                                        node=node.id, input=target, code="unsupported_output"))
                continue
            links.append({"from": source.id, "output": output, "to": node.id, "input": target})
            continue
        if name not in known:
            continue  # a widget of a newer or older ComfyUI version that fluxwire's twin does not have
        if name in twin.values:
            table = twin.values[name]
            if not isinstance(value, (str, int, float, bool, type(None))) or value not in table:
                allowed = ", ".join(repr(k) for k in table)
                problems.append(Problem(f"{describe(node)}: {name} {value!r} is not supported by fluxwire "
                                        f"(supported: {allowed})", node=node.id, input=target,
                                        code="unsupported_value"))
                continue
            value = table[value]
            if value is None:
                continue  # a setting that only selects what fluxwire always does
        if name in twin.model_inputs:
            value = _model_name(value)
        widgets[target] = value
    widgets.update(twin.fixed)
    doc: dict[str, Any] = {"id": node.id, "type": twin.node, "widgets": widgets}
    ui = dict(node.ui)
    if node.title and node.title != node.cls:
        ui["title"] = node.title
    if ui:
        doc["ui"] = ui
    props: dict[str, Any] = {"comfyui": {"class_type": node.cls}}
    models = [{"name": _model_name(m.get("name")), "folder": _FOLDER_OF.get(m.get("directory"), m.get("directory")),
               "url": m.get("url")} for m in node.models if isinstance(m.get("name"), str)]
    if models:
        props["models"] = models
    doc["properties"] = props
    return doc


def to_document(graph: ComfyGraph, source: str | None, registry=None) -> tuple[dict, list[Problem]]:
    """(fluxwire document, problems); the document is only meaningful when there are no problems."""
    problems = unsupported(graph, registry)
    if problems:
        return {}, problems
    nodes, links = [], []
    for node in graph.nodes.values():
        nodes.append(_node(node, BY_CLASS[node.cls], graph, links, problems))
    name = source.rsplit("/", 1)[-1] if source else "ComfyUI workflow"
    doc = {"format": FORMAT, "version": VERSION,
           "metadata": {"title": name, "description": f"imported from a ComfyUI {graph.kind.upper()} workflow"},
           "nodes": nodes, "links": links,
           "extra": {"comfyui": {"format": graph.kind}}}
    if graph.groups:
        doc["groups"] = graph.groups
    return doc, problems
