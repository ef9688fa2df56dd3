"""The ComfyUI graph both formats are read into before conversion: API-prompt shaped (named inputs, each
a constant or a link to an output slot), plus what the UI format adds (titles, positions, colours)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Ref(NamedTuple):
    """A link: output `slot` of node `node`."""

    node: str
    slot: int


@dataclass
class ComfyNode:
    id: str
    cls: str
    inputs: dict[str, Any] = field(default_factory=dict)  # name -> constant or Ref
    title: str | None = None
    ui: dict[str, Any] = field(default_factory=dict)  # pos, size, color, bgcolor, collapsed
    models: list[dict] = field(default_factory=list)  # properties.models of UI files
    mode: str | None = None  # "mute" / "bypass": kept on the fluxwire node, applied by the engine
    reroutes: dict[str, str] = field(default_factory=dict)  # input name -> last reroute point of its wire
    proxies: list[tuple[str, str, Any]] = field(default_factory=list)  # instances: (inner id, widget, value)


INPUTS, OUTPUTS = "@inputs", "@outputs"  # a subgraph's boundary, as fluxwire's subgraph links name it


@dataclass
class SubgraphSocket:
    name: str  # fluxwire socket name (ComfyUI's, made an identifier)
    type: str  # ComfyUI type
    widget: bool = False  # an input that feeds inner widgets: it is a (promoted) widget on instances
    comfy_name: str = ""


@dataclass
class ComfySubgraph:
    """A UI 0.4 subgraph definition: its inside, its sockets, and what feeds each output."""

    id: str
    name: str
    inputs: list[SubgraphSocket]
    outputs: list[SubgraphSocket]
    graph: "ComfyGraph"
    output_feeds: dict[int, Any] = field(default_factory=dict)  # output slot -> Ref
    description: str = ""
    category: str = ""
    promoted: dict[str, tuple[str, str]] = field(default_factory=dict)  # input name -> (inner id, widget)
    output_reroutes: dict[int, str] = field(default_factory=dict)  # output slot -> last reroute point of its wire
    boundary: dict[str, list] = field(default_factory=dict)  # "inputs"/"outputs" -> [x, y] of the boundary nodes


@dataclass
class ComfyGraph:
    nodes: dict[str, ComfyNode] = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    kind: str = "api"  # "api" or "ui"
    extra: dict[str, Any] = field(default_factory=dict)
    subgraphs: dict[str, ComfySubgraph] = field(default_factory=dict)  # only on the top-level graph


def describe(node: ComfyNode) -> str:
    """How a node is named in messages: id, class and title."""
    title = f' "{node.title}"' if node.title and node.title != node.cls else ""
    return f"{node.cls}{title} (id {node.id})"
