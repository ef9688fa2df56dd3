"""Cells per second of a flux-mini seed sweep: serial (one executor) vs Ray with 1..N actors.

Needs the optional extra (pip install 'fluxwire[ray]'). Usage: python bench/bench_ray_sweep.py [CELLS] [MAX_ACTORS]
Each Ray row includes the actors' start and model load (long-lived actors amortise them over a sweep).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(cells: int = 8, max_actors: int = 2) -> None:
    import ray

    from flux_core.graph.executor import Executor
    from flux_core.ray_sweep import RaySweep
    from flux_core.sweep import parse_vary, run_sweep

    document = json.loads((ROOT / "workflows" / "flux-mini.json").read_text())
    axes = [parse_vary(f"noise.seed=1..{cells}")]
    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    start = time.perf_counter()
    run_sweep(Executor(output_dir=folder / "serial"), document, axes)
    serial = cells / (time.perf_counter() - start)
    print(f"serial (1 executor):  {serial:6.2f} cells/s")
    ray.init(num_cpus=max_actors, include_dashboard=False, log_to_driver=False)
    try:
        for actors in range(1, max_actors + 1):
            start = time.perf_counter()
            RaySweep(document, axes, folder / f"ray{actors}", actors=actors).run()
            rate = cells / (time.perf_counter() - start)
            print(f"ray, {actors} actor(s):     {rate:6.2f} cells/s  ({rate / serial:.2f}x serial)")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
