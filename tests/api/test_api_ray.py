"""`fluxwire api --ray`: the API's jobs run on long-lived actors of a real local Ray cluster.

The queue, the events, cancelling and the results behave as in local mode; jobs go to the actor that
already holds their models; an actor killed mid-job costs a retry, never a lost or doubled job.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.api.conftest import PICTURE, QUICK, SLOW, doc, wait_status

ROOT = Path(__file__).resolve().parents[2]
DONE = ("success", "error", "cancelled", "interrupted", "invalid")
SHORT = doc([("slow", "SlowSteps", {"steps": 20, "delay": 0.1}), ("s", "ShowValue", {})],
            [("slow", "count", "s", "value")])


class RayServer:
    """The API in this process (a real socket) with its jobs on a `RayPool`."""

    def __init__(self, executor, pool):
        from web.api.server import build_api, run_uvicorn

        self.pool = pool
        self.app = build_api(executor, remote=pool)
        self.service = self.app.state.fluxwire_service
        self.uvicorn, self.thread, port = run_uvicorn(self.app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{port}"

    def client(self, name: str):
        import httpx

        return httpx.Client(base_url=self.url, headers={"X-Fluxwire-Client": name}, timeout=30)

    def close(self):
        self.uvicorn.should_exit = True
        self.thread.join(timeout=10)
        self.service.close()
        self.pool.close()


@pytest.mark.slow
def test_api_jobs_run_on_ray_actors_with_events_cancel_queue_and_same_pictures(ray_cluster, executor, tmp_path,
                                                                                test_nodes_dir):
    from flux_core.graph.executor import Executor
    from tests.api.test_api_events_client import sse_events
    from web.api.ray_jobs import RayPool

    pool = RayPool(actors=2, nodes_dir=test_nodes_dir, models_dir=tmp_path / "models")
    server = RayServer(executor, pool)
    try:
        alice, bob = server.client("alice"), server.client("bob")
        # a picture: made on an actor, written once into the server's output folder, same bytes as here
        job = alice.post("/api/jobs", json={"workflow": PICTURE}).json()["id"]
        record = wait_status(alice, job, DONE, timeout=120)
        assert record["status"] == "success", record.get("message")
        assert record["worker"]["pid"] != os.getpid()
        (image,) = record["outputs"]["save"]["images"]
        served = alice.get("/api/view", params=image).content
        local = Executor(executor.registry, output_dir=tmp_path / "local").run(PICTURE)
        (mine,) = [Path(p if isinstance(p, str) else p["path"]) for p in local.ui["save"]["images"]]
        assert served == mine.read_bytes() and served[:4] == b"\x89PNG"
        assert len(list((tmp_path / "output").rglob("*.png"))) == 1

        # events as in local mode: queued, started, each node finished, finished
        job = alice.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": 9}}).json()["id"]
        kinds = [e["type"] for e in sse_events(server, job)]
        assert kinds[0] == "job_queued" and "job_started" in kinds and kinds[-1] == "job_finished"
        assert kinds.count("node_finished") + kinds.count("node_cached") == 2
        assert alice.get(f"/api/jobs/{job}").json()["outputs"]["w"]["text"] == "9"

        # an actor dies with a job in hand: the job runs again on a fresh actor and ends once
        job = alice.post("/api/jobs", json={"workflow": SHORT}).json()["id"]
        wait_status(alice, job, ("running",), timeout=60)
        deadline = time.monotonic() + 30
        while not [e for e in server.service.get(job).events if e["type"] == "node_started"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ray_cluster.kill(pool.actors[pool.router.jobs.index(1)], no_restart=True)
        record = wait_status(alice, job, DONE, timeout=120)
        assert record["status"] == "success" and record["outputs"]["s"]["text"] == "20"
        assert pool.replaced == 1
        assert [e["attempt"] for e in server.service.get(job).events if e["type"] == "job_retried"] == [2]
        assert sum(1 for e in server.service.get(job).events if e["type"] == "job_finished") == 1

        # cancel a running job: the actor stops it
        slow = bob.post("/api/jobs", json={"workflow": SLOW}).json()["id"]
        wait_status(bob, slow, ("running",), timeout=60)
        time.sleep(1.0)  # let it get going on its actor
        assert bob.delete(f"/api/jobs/{slow}").json() == {"cancelled": True}
        started = time.monotonic()
        assert wait_status(bob, slow, DONE, timeout=30)["status"] == "cancelled"
        assert time.monotonic() - started < 10  # 400 steps x 0.05 s would take 20 s

        # the shared queue: everyone's waiting jobs listed, the caller's marked; cancel one; resume
        alice.post("/api/queue/pause")
        a = alice.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": 1}}).json()["id"]
        b = bob.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": 2}}).json()["id"]
        listed = alice.get("/api/queue").json()["waiting"]
        assert [(j["id"], j["mine"]) for j in listed] == [(a, True), (b, False)]
        assert alice.delete(f"/api/jobs/{a}").json() == {"cancelled": True}
        alice.post("/api/queue/resume")
        assert wait_status(bob, b, DONE, timeout=60)["outputs"]["w"]["text"] == "2"
        assert alice.get(f"/api/jobs/{a}").json()["status"] == "cancelled"
    finally:
        server.close()


@pytest.mark.slow
def test_routing_loads_each_model_set_once_per_actor(ray_cluster, tmp_path):
    """2 model sets x 2 jobs, interleaved, on 2 actors: a set's loader runs at most once per actor, and each
    job ends once with one picture."""
    from flux_core.graph.executor import Executor
    from web.api.ray_jobs import RayPool

    document = json.loads((ROOT / "workflows" / "flux-mini.json").read_text())
    executor = Executor(output_dir=tmp_path / "output")
    pool = RayPool(actors=2)
    server = RayServer(executor, pool)
    try:
        http = server.client("sweeper")
        http.post("/api/queue/pause")  # all queued first, so the routing sees the interleaved order
        sets = ["default", "fp32"]
        jobs = [http.post("/api/jobs", json={"workflow": document, "overrides": {
            "model.weight_dtype": sets[i % 2], "noise.seed": i}}).json()["id"] for i in range(4)]
        http.post("/api/queue/resume")
        records = [wait_status(http, job, DONE, timeout=240) for job in jobs]
        assert [r["status"] for r in records] == ["success"] * 4, records
        loads: dict[tuple[int, str], int] = {}
        for i, r in enumerate(records):
            if "model" in r["executed"]:
                key = (r["worker"]["pid"], sets[i % 2])
                loads[key] = loads.get(key, 0) + 1
        assert loads and max(loads.values()) == 1, loads  # never the same set loaded twice on one actor
        # and never on a second actor either: a job goes where its set already is (a router ignoring that, or
        # preferring the other actor, loads a set again)
        assert sum(loads.values()) == len(sets), loads
        assert len(list((tmp_path / "output").rglob("*.png"))) == 4  # every job's picture once
        assert len(server.service.history.newest(100)) == 4
    finally:
        server.close()


def test_ray_address_where_no_cluster_answers_is_one_clear_message(tmp_path):
    import subprocess
    import sys

    from tests.web.canvas_helpers import free_port

    dead = free_port()  # nothing listens there
    proc = subprocess.run([sys.executable, "-m", "flux_core.cli", "api", "--port", str(free_port()),
                           "--output-dir", str(tmp_path / "out"), "--ray", f"127.0.0.1:{dead}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2
    assert f"--ray 127.0.0.1:{dead}: no Ray cluster answers there" in proc.stderr
    assert "Traceback" not in proc.stderr
