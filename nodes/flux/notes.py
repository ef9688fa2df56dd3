"""A note on the canvas: text for people, nothing to compute (ComfyUI's Note and MarkdownNote land here)."""
from __future__ import annotations

from flux_core.graph.node import Combo, Node, String


class Note(Node):
    """A text note on the canvas; it computes nothing."""

    category = "notes"
    output_node = True
    inputs = [String("text", "", multiline=True), Combo("format", ["text", "markdown"])]
    outputs = []

    def run(self, ctx, text, format):
        return {}


NODES = [Note]
