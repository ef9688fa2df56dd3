"""ComfyUI's API prompt format ({"id": {"class_type", "inputs", "_meta"}}) read into a `ComfyGraph`."""
from __future__ import annotations

from typing import Any

from ...graph.workflow import Problem
from .graph import ComfyGraph, ComfyNode, Ref


def is_api_prompt(data: Any) -> bool:
    return isinstance(data, dict) and bool(data) and all(
        isinstance(v, dict) and "class_type" in v for v in data.values())


def unwrap(data: Any) -> Any:
    """A saved POST /prompt body ({"prompt": {...}, "client_id": ...}) holds the prompt under "prompt"."""
    if isinstance(data, dict) and "format" not in data and is_api_prompt(data.get("prompt")):
        return data["prompt"]
    return data


def read_api(data: dict, problems: list[Problem]) -> ComfyGraph:
    graph = ComfyGraph(kind="api")
    for nid, raw in data.items():
        nid = str(nid)
        cls = raw.get("class_type")
        if not isinstance(cls, str) or not cls:
            problems.append(Problem(f'"class_type" must be a class name, got {cls!r}', node=nid,
                                    code="bad_comfyui_node"))
            continue
        raw_inputs = raw.get("inputs", {})
        if not isinstance(raw_inputs, dict):
            problems.append(Problem('"inputs" must be an object', node=nid, code="bad_comfyui_node"))
            raw_inputs = {}
        inputs = {}
        for name, value in raw_inputs.items():
            if _is_link(value):
                inputs[str(name)] = Ref(str(value[0]), int(value[1]))
            elif isinstance(value, dict) and "__value__" in value:
                inputs[str(name)] = value["__value__"]
            else:
                inputs[str(name)] = value
        meta = raw.get("_meta")
        title = meta.get("title") if isinstance(meta, dict) and isinstance(meta.get("title"), str) else None
        graph.nodes[nid] = ComfyNode(nid, cls, inputs, title)
    return graph


def _is_link(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int))
            and not isinstance(value[0], bool) and isinstance(value[1], (int, float))
            and not isinstance(value[1], bool) and float(value[1]).is_integer() and value[1] >= 0)
