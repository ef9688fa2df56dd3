"""Executor overhead on a generated 1000-node graph of trivial nodes (Math from the built-in pack).

Prints microseconds per node for the first run (validate + hash + execute) and a fully cached re-run.
Targets (issue 2): <= 50 us/node first run, <= 10 us/node cached.
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def grid_document(n: int) -> dict:
    """n nodes: two constants, then Math nodes each adding the two previous ones, then one ShowValue."""
    nodes = [{"id": "c0", "type": "FloatValue", "widgets": {"value": 1.0}},
             {"id": "c1", "type": "FloatValue", "widgets": {"value": 2.0}}]
    links = []
    prev = ["c0", "c1"]
    for i in range(2, n - 1):
        nid = f"m{i}"
        nodes.append({"id": nid, "type": "Math", "widgets": {"op": "add"}})
        out = lambda p: "value" if p.startswith("c") else "result"  # noqa: E731
        links.append({"from": prev[-2], "output": out(prev[-2]), "to": nid, "input": "a"})
        links.append({"from": prev[-1], "output": out(prev[-1]), "to": nid, "input": "b"})
        prev.append(nid)
    nodes.append({"id": "show", "type": "ShowValue", "widgets": {}})
    links.append({"from": prev[-1], "output": "result", "to": "show", "input": "value"})
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {}, "nodes": nodes, "links": links}


def measure(n: int = 1000, repeats: int = 5) -> dict:
    from flux_core import Executor
    from flux_core.graph.registry import Registry

    registry = Registry()
    registry.load_builtin()
    document = grid_document(n)
    firsts, cached = [], []
    for _ in range(repeats):
        ex = Executor(registry)
        t = time.perf_counter()
        r = ex.run(document)
        firsts.append(time.perf_counter() - t)
        assert len(r.executed) == n
        t = time.perf_counter()
        r = ex.run(document)
        cached.append(time.perf_counter() - t)
        assert not r.executed
    return {"nodes": n, "first_us_per_node": min(firsts) / n * 1e6, "cached_us_per_node": min(cached) / n * 1e6}


def main() -> int:
    m = measure()
    print(f"executor, {m['nodes']}-node graph: first run {m['first_us_per_node']:.1f} us/node (target <= 50), "
          f"cached re-run {m['cached_us_per_node']:.1f} us/node (target <= 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
