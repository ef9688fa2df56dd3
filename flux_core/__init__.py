"""fluxwire's engine and FLUX math.

The engine (workflow documents, node registry, executor) imports no torch; the model loaders do,
so they are imported on first use::

    from flux_core import load_workflow, Executor
    result = Executor().run(load_workflow("workflows/flux-mini.json"), overrides={"noise.seed": 7})
"""
from __future__ import annotations

from typing import Any

from .graph.executor import Executor, RunFailed, RunInterrupted, RunResult
from .graph.node import Boolean, Combo, Float, Input, Int, Node, NodeError, Output, String
from .graph.workflow import Problem, Workflow, WorkflowError, dumps_document, save_document

__version__ = "0.1.0"

_LAZY = {
    "load_diffusion_model": "flux_core.loading",
    "load_vae": "flux_core.loading",
    "load_text_encoders": "flux_core.loading",
    "load_checkpoint": "flux_core.loading",
    "load_diffusers_folder": "flux_core.loading",
    "ModelLoadError": "flux_core.loading",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flux_core' has no attribute {name!r}")


def load_workflow(source: Any, *, registry=None, validate: bool = True, env=None) -> Workflow:
    """Read a workflow (path to .json or .png, JSON text, or a decoded dict) and check it.

    With ``validate`` (the default) the node types, links, widget values and cycles are checked
    against the registered node classes too; every problem is reported in one WorkflowError.
    """
    from .graph.executor import as_workflow
    from .graph.registry import default_registry
    from .graph.validation import check
    from .graph.workflow import loads_document

    if isinstance(source, bytes) or (isinstance(source, str) and source.lstrip().startswith("{")):
        workflow = loads_document(source)
    else:
        workflow = as_workflow(source)
    if validate:
        check(workflow, registry if registry is not None else default_registry(), env)
    return workflow


def save_workflow(workflow: Workflow, path) -> Any:
    """Write a workflow deterministically and atomically (see `flux_core.graph.workflow.save_document`)."""
    return save_document(workflow, path)


__all__ = ["Executor", "RunResult", "RunFailed", "RunInterrupted", "Node", "NodeError", "Input", "Output", "Int",
           "Float", "String", "Boolean", "Combo", "Workflow", "WorkflowError", "Problem", "load_workflow",
           "save_workflow", "dumps_document", *list(_LAZY)]
