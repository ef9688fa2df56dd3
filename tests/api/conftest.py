"""A real API server (uvicorn in this process, a real socket) and helpers to drive it over HTTP."""
from __future__ import annotations

import time

import pytest

# the registry with the canvas test pack (SlowSteps, TestPicture) and an executor on it
from tests.web.conftest import executor, registry, test_nodes_dir  # noqa: E402,F401


def doc(nodes, links=()):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "api"},
            "nodes": [{"id": i, "type": t, "widgets": w} for i, t, w in nodes],
            "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links]}


QUICK = doc([("v", "IntValue", {"value": 7}), ("w", "ShowValue", {})], [("v", "value", "w", "value")])
SLOW = doc([("slow", "SlowSteps", {"steps": 400, "delay": 0.05}), ("s", "ShowValue", {})],
           [("slow", "count", "s", "value")])
PICTURE = doc([("p", "TestPicture", {"width": 40, "height": 24, "seed": 5, "delay": 0.0}),
               ("save", "WritePicture", {"prefix": "api"})], [("p", "image", "save", "image")])


class Server:
    def __init__(self, executor, host="127.0.0.1", token=None):
        from web.api.server import build_api, run_uvicorn, token_for

        self.token, self.generated = token_for(host, token)
        self.app = build_api(executor, token=self.token)
        self.service = self.app.state.fluxwire_service
        self.uvicorn, self.thread, self.port = run_uvicorn(self.app, host, 0)
        self.url = f"http://{host}:{self.port}"

    def client(self, name: str | None = None, token: str | None = "same"):
        import httpx

        headers = {}
        if name:
            headers["X-Fluxwire-Client"] = name
        token = self.token if token == "same" else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def close(self):
        self.uvicorn.should_exit = True
        self.thread.join(timeout=10)
        self.service.close()


@pytest.fixture
def server(executor):
    s = Server(executor)
    yield s
    s.close()


def wait_status(http, job_id, statuses, timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = http.get(f"/api/jobs/{job_id}").json()
        if record["status"] in statuses:
            return record
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {statuses}: {record}")


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for every Ray test (starting one takes ~10 s here). Ray is in the test extra."""
    import os

    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local cluster needs no token file
    # 4 logical CPUs: a sweep's 2 actors and the API's 2 may both exist (each actor asks for one)
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
