"""Jobs per second through the HTTP API against in-process `Executor.run`, and server memory over jobs.

The workflow is tiny (IntValue -> ShowValue, a new value per job), so what is measured is the API's own
cost per job: HTTP, validation at submit, the queue hand-off, the history row. Prints a ratio (API
jobs/s over in-process jobs/s) for one client and for 5 parallel clients, the overhead per job in ms,
and the server's RSS after warm-up and after all jobs (same process: the server runs in a thread).
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DOC = {"format": "fluxwire.workflow", "version": 1, "metadata": {},
       "nodes": [{"id": "v", "type": "IntValue", "widgets": {"value": 0}}, {"id": "w", "type": "ShowValue", "widgets": {}}],
       "links": [{"from": "v", "output": "value", "to": "w", "input": "value"}]}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main(jobs: int = 200) -> None:
    import httpx

    from flux_core import Executor
    from web.api.server import build_api, run_uvicorn

    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    executor = Executor(output_dir=folder / "out", models_dir=folder / "models")
    start = time.perf_counter()
    for i in range(jobs):
        executor.run(DOC, {"v.value": i})
    local = jobs / (time.perf_counter() - start)

    app = build_api(executor)
    server, thread, port = run_uvicorn(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}"

    def client_run(n_jobs: int, offset: int, name: str):
        with httpx.Client(base_url=url, headers={"X-Fluxwire-Client": name}, timeout=60) as http:
            ids = [http.post("/api/jobs", json={"workflow": DOC, "overrides": {"v.value": offset + i}}).json()["id"]
                   for i in range(n_jobs)]
            for job_id in ids:
                assert http.get(f"/api/jobs/{job_id}/wait").json()["status"] == "success"

    client_run(50, 10_000, "warm")  # warm-up
    warm_rss = rss_mb()
    start = time.perf_counter()
    client_run(jobs, 20_000, "one")
    one = jobs / (time.perf_counter() - start)
    start = time.perf_counter()
    threads = [threading.Thread(target=client_run, args=(jobs // 5, 30_000 + k * 1000, f"c{k}")) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    five = jobs / (time.perf_counter() - start)
    end_rss = rss_mb()
    server.should_exit = True
    thread.join(10)
    app.state.fluxwire_service.close()

    print(f"in-process Executor.run: {local:8.1f} jobs/s ({1000 / local:.2f} ms/job)")
    print(f"API, 1 client:           {one:8.1f} jobs/s  ratio {one / local:.3f}  overhead {1000 / one - 1000 / local:.2f} ms/job")
    print(f"API, 5 clients:          {five:8.1f} jobs/s  ratio {five / local:.3f}  overhead {1000 / five - 1000 / local:.2f} ms/job")
    print(f"server RSS: {warm_rss:.0f} MB after warm-up, {end_rss:.0f} MB after {2 * jobs} more jobs "
          f"({end_rss - warm_rss:+.1f} MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
