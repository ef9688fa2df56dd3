"""Jobs per second through the HTTP API: the server's own executor vs `--ray` with 1..N actors.

Needs Ray (the `ray` extra). Usage: python bench/bench_api_ray.py [JOBS] [MAX_ACTORS]
flux-mini jobs with different seeds and two model sets (weight dtype default/fp32), interleaved, as a
sweep of two models would send them. Each mode is warmed up first (one job per model set per worker),
so the rows compare steady throughput; "loads" counts how often a worker ran the model loader in the
timed part (routing should keep it at 0: every worker already holds what it is sent).
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
SETS = ["default", "fp32"]


def run_jobs(url: str, document: dict, seeds: range) -> list[dict]:
    import httpx

    with httpx.Client(base_url=url, headers={"X-Fluxwire-Client": "bench"}, timeout=600) as http:
        ids = [http.post("/api/jobs", json={"workflow": document, "overrides": {
            "noise.seed": s, "model.weight_dtype": SETS[s % 2]}}).json()["id"] for s in seeds]
        return [http.get(f"/api/jobs/{i}/wait", params={"timeout": 300}).json() for i in ids]


def mode(document: dict, jobs: int, remote, warm: int) -> tuple[float, int]:
    from flux_core.graph.executor import Executor
    from web.api.server import build_api, run_uvicorn

    app = build_api(Executor(output_dir=tempfile.mkdtemp(prefix="bench-api-ray-")), remote=remote)
    server, thread, port = run_uvicorn(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}"
    try:
        run_jobs(url, document, range(warm))
        start = time.perf_counter()
        done = run_jobs(url, document, range(warm, warm + jobs))
        rate = jobs / (time.perf_counter() - start)
        assert all(r["status"] == "success" for r in done), [r.get("message") for r in done]
        return rate, sum("model" in r["executed"] for r in done)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.fluxwire_service.close()


def main(jobs: int = 8, max_actors: int = 2) -> None:
    import ray

    from web.api.ray_jobs import RayPool

    document = json.loads((ROOT / "workflows" / "flux-mini.json").read_text())
    local, loads = mode(document, jobs, None, warm=2)
    print(f"API, server's executor: {local:6.2f} jobs/s  (loads {loads})")
    ray.init(num_cpus=max_actors, include_dashboard=False, log_to_driver=False)
    try:
        for actors in range(1, max_actors + 1):
            pool = RayPool(actors=actors)
            rate, loads = mode(document, jobs, pool, warm=2 * actors)
            pool.close()
            print(f"API --ray, {actors} actor(s): {rate:6.2f} jobs/s  ({rate / local:.2f}x local; loads {loads})")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
