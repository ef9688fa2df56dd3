"""The server's memory stays flat over many runs from several clients (it used to keep one canvas per run).

A real `fluxwire serve` process with the canvas test pack, five `gradio_client` sessions taking turns
(like five browser tabs), and the server's resident memory read from /proc.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .canvas_helpers import free_port

WARM_UP_RUNS = 20
MEASURED_RUNS = 200
CLIENTS = 5
GRAPH = {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "memory"},
         "nodes": [{"id": "p", "type": "TestPicture", "widgets": {"width": 64, "height": 48, "delay": 0.0}},
                   {"id": "w", "type": "WritePicture", "widgets": {"prefix": "memory"}},
                   {"id": "s", "type": "SlowSteps", "widgets": {"steps": 2, "delay": 0.0}},
                   {"id": "t", "type": "ShowValue", "widgets": {}}],
         "links": [{"from": "p", "output": "image", "to": "w", "input": "image"},
                   {"from": "s", "output": "count", "to": "t", "input": "value"}]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def served(tmp_path, test_nodes_dir):
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "flux_core.cli", "serve", "--port", str(port),
                             "--nodes-dir", str(test_nodes_dir), "--output-dir", str(tmp_path / "output"),
                             "--models-dir", str(tmp_path / "models")],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url + "gradio_api/info", timeout=2).read()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("the server did not start within 120 s")
    yield proc, url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.slow
def test_server_memory_stays_flat_over_200_runs(served):
    from gradio_client import Client

    proc, url = served
    clients = [Client(url, verbose=False, download_files=False) for _ in range(CLIENTS)]

    def run(i: int) -> None:
        out = clients[i % CLIENTS].predict(GRAPH, api_name="/run_graph")
        state = out[0]["props"]["run_state"] if "props" in out[0] else out[0]["run_state"]
        assert state["status"] == "success", state

    for i in range(WARM_UP_RUNS):
        run(i)
    before = rss_mb(proc.pid)
    for i in range(MEASURED_RUNS):
        run(i)
    after = rss_mb(proc.pid)
    growth = (after - before) / before
    print(f"server RSS {before:.0f} -> {after:.0f} MB over {MEASURED_RUNS} runs ({growth:+.1%})")
    assert growth <= 0.10, f"the server grew {before:.0f} -> {after:.0f} MB over {MEASURED_RUNS} runs"
    # with this small test pack one canvas kept per run was ~115 KB a run (+23 MB, +7 %, here): a tighter
    # bound than the 10 % goal, so that leak cannot hide under it
    assert after - before <= 10, f"the server grew {after - before:.1f} MB over {MEASURED_RUNS} runs"
