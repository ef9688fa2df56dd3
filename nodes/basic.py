"""Basic value nodes: constants a user can wire into any widget input, and small arithmetic.

They cost nothing to run, which also makes them the nodes of the executor's benchmark.
"""
from __future__ import annotations

from flux_core.graph.node import Boolean, Combo, Float, Input, Int, Node, NodeError, Output, String


class IntValue(Node):
    """A whole number to feed into INT inputs (e.g. one seed shared by several nodes)."""

    category = "values"
    inputs = [Int("value", 0, min=-(2**63), max=2**64 - 1)]
    outputs = [Output("value", "INT")]

    def run(self, ctx, value):
        return value


class FloatValue(Node):
    """A number to feed into FLOAT inputs."""

    category = "values"
    inputs = [Float("value", 0.0)]
    outputs = [Output("value", "FLOAT")]

    def run(self, ctx, value):
        return value


class StringValue(Node):
    """Text to feed into STRING inputs, e.g. one prompt shared by two encoders."""

    category = "values"
    inputs = [String("value", "", multiline=True)]
    outputs = [Output("value", "STRING")]

    def run(self, ctx, value):
        return value


class BooleanValue(Node):
    """A true/false switch to feed into BOOLEAN inputs."""

    category = "values"
    inputs = [Boolean("value", False)]
    outputs = [Output("value", "BOOLEAN")]

    def run(self, ctx, value):
        return value


class Math(Node):
    """Arithmetic on two numbers; division by zero is reported, not turned into infinity."""

    category = "values"
    inputs = [Float("a", 0.0), Float("b", 0.0), Combo("op", ["add", "subtract", "multiply", "divide"])]
    outputs = [Output("result", "FLOAT")]

    def run(self, ctx, a, b, op):
        if op == "divide" and b == 0:
            raise NodeError("cannot divide by zero", input="b")
        return {"add": a + b, "subtract": a - b, "multiply": a * b, "divide": a / b if b else 0.0}[op]


class JoinText(Node):
    """Join two texts with a separator (e.g. a style suffix onto a prompt)."""

    category = "values"
    inputs = [String("first", ""), String("second", ""), String("separator", ", ")]
    outputs = [Output("text", "STRING")]

    def run(self, ctx, first, second, separator):
        return separator.join(t for t in (first, second) if t)


class ShowValue(Node):
    """An output node that shows any value on the canvas (its text form)."""

    category = "values"
    output_node = True
    inputs = [Input("value", "*")]
    outputs = []

    def run(self, ctx, value):
        text = repr(value)
        ctx.show(text=text if len(text) <= 2000 else text[:1997] + "...")
        return {}


NODES = [IntValue, FloatValue, StringValue, BooleanValue, Math, JoinText, ShowValue]
