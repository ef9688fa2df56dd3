"""Pictures saved by ComfyUI: tEXt chunks ``prompt`` (API prompt JSON) and ``workflow`` (UI workflow JSON).

As ComfyUI's frontend does, the UI workflow is preferred (it keeps positions and titles); the API prompt
is the fallback when there is no UI workflow or it cannot be converted (then its problems are reported
only if the prompt fails too).
"""
from __future__ import annotations

import json

from ...graph.workflow import Problem, WorkflowError, dumps_document


def _decoded(text: str, key: str, source: str | None):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise WorkflowError([Problem(f"the PNG's ComfyUI {key!r} chunk is not valid JSON: {e}", code="not_json")],
                            source) from None


def document_text(chunks: dict[str, str], source: str | None = None) -> str:
    """The fluxwire document (JSON text) converted from a ComfyUI picture's chunks."""
    from . import comfyui_to_document

    first_error = None
    for key in ("workflow", "prompt"):
        if key not in chunks:
            continue
        try:
            return dumps_document(comfyui_to_document(_decoded(chunks[key], key, source), source))
        except WorkflowError as e:
            first_error = first_error or e
    raise first_error
