"""A fluxwire document written as a ComfyUI API prompt, through the same table read backwards.

Only documents whose nodes all have a ComfyUI twin can be written; otherwise every node without one is
listed (a note is UI-only in ComfyUI and simply left out of the prompt). Widget values a twin cannot carry
(e.g. a T5 length other than ComfyUI's) are refused too, so the prompt makes the same picture in ComfyUI.
"""
from __future__ import annotations

import json
from typing import Any

from ...graph.workflow import Problem, Workflow, WorkflowError
from .table import CONTROL, export_twin

# fluxwire values that stand for what the twin's fixed value means in ComfyUI
_SAME_AS_FIXED = {"t5_max_length": {"comfyui", "256"}}


def _reverse(table: dict, value: Any) -> tuple[bool, Any]:
    for comfy_value, ours in table.items():
        if ours == value:
            return True, comfy_value
    return False, None


def widget_values(nid: str, spec, twin, registry, problems: list[Problem], skip=frozenset()) -> dict[str, Any]:
    """{ComfyUI widget name: value} of one node, read backwards through its twin; what the twin cannot carry
    is added to ``problems``. Widgets whose fluxwire input is in ``skip`` (fed by links) are left out."""
    cls = registry.get(spec.type)
    defaults = {w.name: w.default for w in cls.widgets()} if cls is not None else {}
    value_of = lambda name: spec.widgets.get(name, defaults.get(name))  # noqa: E731
    for name, fixed in twin.fixed.items():
        if value_of(name) != fixed and value_of(name) not in _SAME_AS_FIXED.get(name, ()):
            problems.append(Problem(f"ComfyUI's {twin.comfy} always has {name} {fixed!r}, this node has "
                                    f"{value_of(name)!r}", node=nid, input=name, code="no_comfyui_value"))
    if spec.type == "TextEncode" and value_of("clip_text"):
        problems.append(Problem("a separate CLIP text needs TextEncodeFlux (ComfyUI's CLIPTextEncodeFlux)",
                                node=nid, input="clip_text", code="no_comfyui_value"))
    values: dict[str, Any] = {}
    for name in twin.widgets:
        if name == CONTROL or name in twin.ignore:
            continue
        ours = twin.fluxwire_input(name)
        if ours in skip:
            continue
        value = value_of(ours)
        if name in twin.values:
            found, value = _reverse(twin.values[name], value)
            if not found:
                problems.append(Problem(f"{ours} {value_of(ours)!r} has no ComfyUI equivalent in {twin.comfy}",
                                        node=nid, input=ours, code="no_comfyui_value"))
                continue
        values[name] = value
    return values


def to_api_prompt(workflow: Workflow, registry) -> dict:
    """The API prompt ({id: {class_type, inputs, _meta}}); raise WorkflowError listing what cannot be written.
    Subgraph instances are written as their inner nodes (ids "instance/inner"), as fluxwire runs them;
    bypassed and muted nodes are applied first (an API prompt has no modes), as fluxwire runs them too."""
    from ...graph.node_modes import apply_modes

    workflow = apply_modes(workflow, registry)
    try:
        from ...graph.subgraphs import expand_for_check
    except ImportError:  # a fluxwire without subgraphs
        pass
    else:
        workflow = expand_for_check(workflow, registry)
    problems: list[Problem] = []
    prompt: dict[str, dict] = {}
    twins = {}
    for nid, spec in workflow.nodes.items():
        twin = export_twin(spec.type)
        if twin is None:
            problems.append(Problem(f"{spec.type} has no ComfyUI twin", node=nid, code="no_comfyui_twin"))
            continue
        twins[nid] = twin
    for nid, spec in workflow.nodes.items():
        twin = twins.get(nid)
        if twin is None or twin.virtual:
            continue
        linked = workflow.links_into(nid)
        inputs: dict[str, Any] = widget_values(nid, spec, twin, registry, problems, skip=set(linked))
        for ours, link in linked.items():
            name = next((c for c in twin.comfy_inputs if twin.fluxwire_input(c) == ours), None)
            source = twins.get(link.source)
            if name is None or source is None:
                continue
            if link.output not in source.outputs:
                problems.append(Problem(f"output {link.output!r} of node {link.source!r} has no ComfyUI slot",
                                        node=nid, input=ours, code="no_comfyui_twin"))
                continue
            inputs[name] = [link.source, source.outputs.index(link.output)]
        prompt[nid] = {"class_type": twin.comfy, "inputs": inputs,
                       "_meta": {"title": spec.ui.get("title") or twin.comfy}}
    if problems:
        raise WorkflowError(problems)
    return prompt


def dumps_api_prompt(prompt: dict) -> str:
    return json.dumps(prompt, indent=2, ensure_ascii=False) + "\n"


def export_for_canvas(graph: Any, registry, fmt: str = "api") -> dict:
    """{"ok", "text", "message", "problems"} for the canvas's "Export ComfyUI" items (``fmt`` "api" or "ui")."""
    from ...graph.workflow import parse_document
    from .export_ui import dumps_ui_workflow, to_ui_workflow

    try:
        workflow = parse_document(graph)
        if fmt == "ui":
            text = dumps_ui_workflow(to_ui_workflow(workflow, registry))
        else:
            text = dumps_api_prompt(to_api_prompt(workflow, registry))
    except WorkflowError as e:
        return {"ok": False, "text": None, "message": str(e), "problems": [p.to_dict() for p in e.problems]}
    return {"ok": True, "text": text, "message": "", "problems": []}
