"""Waiting jobs survive a restart of `fluxwire api`: a real server process killed mid-run and started again."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import QUICK, SLOW, doc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def start_api(tmp_path: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), FLUXWIRE_MODELS_DIR=str(tmp_path / "models"))
    proc = subprocess.Popen([sys.executable, "-m", "flux_core.cli", "api", "--port", str(port),
                             "--output-dir", str(tmp_path / "out"), "--nodes-dir", str(tmp_path / "nodes")],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 90
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "fluxwire API on" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the API did not start: {''.join(lines)}")


def wait_for(http, job_id, statuses, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        answer = http.get(f"/api/jobs/{job_id}")
        if answer.status_code == 200:
            record = answer.json()
            if record["status"] in statuses:
                return record
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}: {record}")


@pytest.mark.slow
def test_waiting_jobs_resume_after_a_crash_and_the_running_one_is_reported_failed(tmp_path):
    from tests.web.canvas_helpers import free_port

    (tmp_path / "nodes").mkdir()
    shutil.copy(ROOT / "tests" / "web" / "canvas_test_pack.py", tmp_path / "nodes" / "canvas_test_pack.py")
    port = free_port()
    proc = start_api(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        alice = httpx.Client(base_url=base, headers={"X-Fluxwire-Client": "alice"}, timeout=30)
        bob = httpx.Client(base_url=base, headers={"X-Fluxwire-Client": "bob"}, timeout=30)
        slow = alice.post("/api/jobs", json={"workflow": SLOW}).json()["id"]
        wait_for(alice, slow, ("running",))
        values = [11, 22, 33]
        waiting = [(bob if v == 22 else alice).post(
            "/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": v}}).json()["id"] for v in values]
        assert [j["id"] for j in alice.get("/api/queue").json()["waiting"]] == waiting
        proc.send_signal(signal.SIGKILL)  # a crash: nothing gets a chance to tidy up
        proc.wait(20)

        proc = start_api(tmp_path, port)
        failed = wait_for(alice, slow, ("error",))
        assert "server stopped" in failed["message"]
        done = [wait_for(alice, job_id, ("success", "error", "invalid")) for job_id in waiting]
        assert [d["status"] for d in done] == ["success"] * 3
        assert [d["outputs"]["w"]["text"] for d in done] == [str(v) for v in values]  # each its own overrides
        assert [d["started"] for d in done] == sorted(d["started"] for d in done)  # in submission order
        # owners survive too: each client's history holds its own jobs only
        mine = {j["id"] for j in bob.get("/api/history", params={"mine": "true"}).json()["jobs"]}
        assert mine == {waiting[1]}
        # and a job submitted now runs as usual
        fresh = alice.post("/api/jobs", json={"workflow": doc([("v", "IntValue", {"value": 5}),
                                                                ("w", "ShowValue", {})],
                                                               [("v", "value", "w", "value")])}).json()["id"]
        assert wait_for(alice, fresh, ("success",))["status"] == "success"
    finally:
        proc.terminate()
        proc.wait(20)
