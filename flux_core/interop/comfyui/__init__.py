"""ComfyUI documents in fluxwire: API prompts, UI workflows (legacy and schema 0.4), PNGs carrying them,
and the way back (an API prompt from a fluxwire document). See docs/comfyui.md.

    doc = comfyui_to_document(json.load(open("flux_dev.json")))   # a fluxwire document (dict)
"""
from __future__ import annotations

from typing import Any

from ...graph.workflow import Problem, WorkflowError
from .api import is_api_prompt, read_api, unwrap
from .convert import to_document
from .ui import is_ui_workflow, read_ui


def detect(data: Any) -> str | None:
    """"api", "ui" or None: which ComfyUI format a decoded JSON document is in."""
    data = unwrap(data)
    if is_api_prompt(data):
        return "api"
    if is_ui_workflow(data):
        return "ui"
    return None


def _registry(registry):
    if registry is not None:
        return registry
    from ...graph.registry import default_registry

    return default_registry()


def comfyui_to_document(data: Any, source: str | None = None, registry=None) -> dict:
    """Convert a decoded ComfyUI document to a fluxwire document dict; raise WorkflowError with every problem."""
    data = unwrap(data)
    problems: list[Problem] = []
    kind = detect(data)
    if kind is None:
        raise WorkflowError([Problem("not a ComfyUI API prompt or UI workflow", code="not_comfyui")], source)
    try:
        registry = _registry(registry)
        graph = read_api(data, problems) if kind == "api" else read_ui(data, problems, registry)
        if not graph.nodes and not problems:
            problems.append(Problem("the ComfyUI workflow has no nodes fluxwire could run", code="empty"))
        doc, more = to_document(graph, source, registry)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as e:
        # a shape the readers do not expect somewhere deep in a hand-edited file: still a structured error
        raise WorkflowError([Problem(f"cannot read the ComfyUI {kind.upper()} workflow: a value has an unexpected "
                                     f"shape ({type(e).__name__}: {str(e)[:80]})", code="bad_comfyui_workflow")],
                            source) from None
    problems += more
    if problems:
        raise WorkflowError(problems, source)
    return doc


__all__ = ["detect", "comfyui_to_document"]
