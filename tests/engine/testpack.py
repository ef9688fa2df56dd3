"""Node classes used only by the engine tests: they count their runs and can fail, sleep or report progress."""
from __future__ import annotations

import threading
import time

from flux_core.graph.node import Combo, Float, Input, Int, Node, NodeError, Output, String

RUNS: list[tuple[str, str]] = []  # (node id, node type) of every execution, in order
GATE = threading.Event()  # lets a test hold a node mid-run


def reset():
    RUNS.clear()
    AVAILABLE[:] = ["a.safetensors", "b.safetensors"]
    GATE.clear()


class _Counted(Node):
    def run(self, ctx, **inputs):
        RUNS.append((ctx.node_id, ctx.node_type))
        return self.compute(ctx, **inputs)


class Number(_Counted):
    """A constant number."""
    category = "test"
    inputs = [Float("value", 1.0, min=-1000, max=1000)]
    outputs = [Output("value", "FLOAT")]

    def compute(self, ctx, value):
        return value


class Add(_Counted):
    """a + b."""
    category = "test"
    inputs = [Input("a", "FLOAT"), Input("b", "FLOAT", optional=True)]
    outputs = [Output("sum", "FLOAT")]

    def compute(self, ctx, a, b=0.0):
        return a + b


class Text(_Counted):
    """A constant text."""
    category = "test"
    inputs = [String("text", "hello")]
    outputs = [Output("text", "STRING")]

    def compute(self, ctx, text):
        return text


class Sink(_Counted):
    """An output node recording the value it received."""
    category = "test"
    output_node = True
    inputs = [Input("value", "*")]
    outputs = []

    def compute(self, ctx, value):
        ctx.show(value=value)
        return {}


class Fail(_Counted):
    """Fails when `fail` is non-zero; passes its input through otherwise."""
    category = "test"
    inputs = [Input("value", "FLOAT"), Int("fail", 1, min=0, max=1)]
    outputs = [Output("value", "FLOAT")]

    def compute(self, ctx, value, fail):
        if fail:
            raise NodeError("asked to fail", input="fail")
        return value


class Steps(_Counted):
    """Reports progress for `steps` steps; with `wait` it holds at step 1 until GATE is set."""
    category = "test"
    inputs = [Input("value", "FLOAT"), Int("steps", 3, min=1, max=100), Int("wait", 0, min=0, max=1)]
    outputs = [Output("value", "FLOAT")]

    def compute(self, ctx, value, steps, wait):
        for i in range(steps):
            if wait and i == 1:
                GATE.wait(10)
            ctx.progress(i + 1, steps)
        return value


class FileStamp(_Counted):
    """Reads a file's text; re-runs when the file changes (fingerprint), not only when the path does."""
    category = "test"
    inputs = [String("path", "x.txt")]
    outputs = [Output("text", "STRING")]

    @classmethod
    def fingerprint(cls, env, path):
        import os
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size)

    def compute(self, ctx, path):
        with open(path) as f:
            return f.read()


class Blob(_Counted):
    """Holds `size` bytes, to exercise the cache budget."""
    category = "test"
    inputs = [Int("size", 1000, min=1, max=10**9), Int("tag", 0, min=0, max=10**6)]
    outputs = [Output("blob", "*")]

    def compute(self, ctx, size, tag):
        return bytes(size)


class Renamed(_Counted):
    """Version 2 renamed the widget `amount` to `value`; migrate() carries old documents over."""
    category = "test"
    version = 2
    inputs = [Float("value", 0.0)]
    outputs = [Output("value", "FLOAT")]

    @classmethod
    def migrate(cls, from_version, widgets):
        if from_version < 2 and "amount" in widgets:
            widgets = dict(widgets)
            widgets["value"] = widgets.pop("amount")
        return widgets

    def compute(self, ctx, value):
        return value


AVAILABLE = ["a.safetensors", "b.safetensors"]  # stands in for the files of a models folder


class Pick(_Counted):
    """Chooses one of AVAILABLE, whose contents tests change between runs."""
    category = "test"
    inputs = [Combo("name", lambda env: AVAILABLE)]
    outputs = [Output("name", "STRING")]

    def compute(self, ctx, name):
        return name


NODES = [Pick, Number, Add, Text, Sink, Fail, Steps, FileStamp, Blob, Renamed]
