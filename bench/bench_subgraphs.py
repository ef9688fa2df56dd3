"""What subgraphs cost: the same 1000-node chain of Math nodes, flat and with every Math node inside an
instance of one embedded subgraph (so 1000 instances are expanded before validation).

Prints the ratio of first-run and cached-re-run times (subgraph document / flat document), measured in the
same process. Target: first run <= 2x the flat document, cached re-run <= 1.5x (expansion is linear and the
cache keys are the same as for the flat graph).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).parent))

from bench_executor import grid_document  # noqa: E402


def with_subgraphs(document: dict) -> dict:
    """Every Math node replaced by an instance of the embedded subgraph "add" (same ids, same links)."""
    definition = {"name": "add", "inputs": [{"name": "a", "type": "FLOAT"}, {"name": "b", "type": "FLOAT"}],
                  "outputs": [{"name": "result", "type": "FLOAT"}],
                  "nodes": [{"id": "math", "type": "Math", "widgets": {"op": "add"}}],
                  "links": [{"from": "@inputs", "output": "a", "to": "math", "input": "a"},
                            {"from": "@inputs", "output": "b", "to": "math", "input": "b"},
                            {"from": "math", "output": "result", "to": "@outputs", "input": "result"}]}
    nodes = [dict(n, type="Subgraph", subgraph={"id": "add"}, widgets={}) if n["type"] == "Math" else n
             for n in document["nodes"]]
    return dict(document, version=2, nodes=nodes, subgraphs={"add": definition})


def timed(registry, document, repeats):
    from flux_core import Executor

    firsts, cached = [], []
    for _ in range(repeats):
        ex = Executor(registry)
        t = time.perf_counter()
        r = ex.run(document)
        firsts.append(time.perf_counter() - t)
        t = time.perf_counter()
        ex.run(document)
        cached.append(time.perf_counter() - t)
        assert r.executed
    return min(firsts), min(cached)


def measure(n: int = 1000, repeats: int = 5) -> dict:
    from flux_core.graph.registry import Registry

    registry = Registry()
    registry.load_builtin()
    flat = grid_document(n)
    nested = with_subgraphs(flat)
    f_first, f_cached = timed(registry, flat, repeats)
    s_first, s_cached = timed(registry, nested, repeats)
    return {"nodes": n, "first_ratio": s_first / f_first, "cached_ratio": s_cached / f_cached,
            "first_ms": s_first * 1e3, "flat_first_ms": f_first * 1e3}


def main() -> int:
    m = measure()
    print(f"subgraphs, {m['nodes']}-node chain with every Math in an instance: first run {m['first_ratio']:.2f}x "
          f"the flat graph ({m['first_ms']:.0f} ms vs {m['flat_first_ms']:.0f} ms; target <= 2), cached re-run "
          f"{m['cached_ratio']:.2f}x (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
