"""SaveImage's readable summary walks every node upstream of it: that walk must grow linearly.

Builds chains of 1k and 16k FloatValue -> Math -> ... -> SaveImage nodes and times `_summary` on each,
against a reference in the same process: one plain pass over the same links and widgets (linear, with the
same memory behaviour). Prints both per node and how the summary/reference ratio changes from 1k to 16k;
target (issue 9): the 16k ratio is at most 2x the 1k ratio (a quadratic walk makes it ~16x; it was 9.1 s at 16k).
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def chain(n: int):
    from flux_core.graph.workflow import parse_document

    nodes = [{"id": "c", "type": "FloatValue", "widgets": {"value": 1.0}}]
    links, prev, out = [], "c", "value"
    for i in range(n - 2):
        nodes.append({"id": f"m{i}", "type": "Math", "widgets": {"op": "add", "b": 1.0, "seed": i}})
        links.append({"from": prev, "output": out, "to": f"m{i}", "input": "a"})
        prev, out = f"m{i}", "result"
    nodes.append({"id": "save", "type": "SaveImage", "widgets": {}})
    links.append({"from": prev, "output": out, "to": "save", "input": "images"})
    return parse_document({"format": "fluxwire.workflow", "version": 1, "metadata": {}, "nodes": nodes,
                           "links": links})


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def per_node_us(n: int, repeats: int = 5) -> tuple[float, float]:
    """(summary, reference) in microseconds per node."""
    from types import SimpleNamespace

    from nodes.flux.image import _summary

    wf = chain(n)
    ctx = SimpleNamespace(node_id="save", run_info={"workflow": wf})
    assert _summary(ctx).count("seed:") == n - 2

    def reference():
        into = {link.target: link.source for link in wf.links}
        return [f"{k}: {v}" for spec in wf.nodes.values() if spec.id in into or spec.id == "c"
                for k, v in spec.widgets.items() if k == "seed"]

    return _best(lambda: _summary(ctx), repeats) / n * 1e6, _best(reference, repeats) / n * 1e6


def main() -> None:
    (s1, r1), (s16, r16) = per_node_us(1000), per_node_us(16000)
    growth = (s16 / r16) / (s1 / r1)
    print(f"summary: {s1:.2f} us/node at 1k (reference {r1:.2f}), {s16:.2f} us/node at 16k (reference {r16:.2f}); "
          f"summary/reference grows {growth:.2f}x from 1k to 16k ({'ok' if growth <= 2 else 'NOT linear'}; "
          "target <= 2)")


if __name__ == "__main__":
    main()
