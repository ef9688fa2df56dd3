"""Live job events over SSE and WebSocket, and the Python client, against a real server."""
from __future__ import annotations

import io
import json
import threading

import pytest
from PIL import Image

from .conftest import PICTURE, QUICK, SLOW, doc

STREAM = doc([("p", "TestPicture", {"width": 32, "height": 16, "seed": 9, "delay": 0.02}),
              ("save", "WritePicture", {"prefix": "ev"})], [("p", "image", "save", "image")])


def sse_events(server, job_id, token=None):
    import httpx

    events = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.stream("GET", f"{server.url}/api/jobs/{job_id}/events", headers=headers, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                assert event["type"] == kind
                events.append(event)
    return events


def test_sse_streams_every_event_of_one_job_in_order(server):
    with server.client("sse") as http:
        http.post("/api/queue/pause")  # subscribe before anything runs
        job_id = http.post("/api/jobs", json={"workflow": STREAM}).json()["id"]
        other = http.post("/api/jobs", json={"workflow": QUICK}).json()["id"]
        got = {}
        reader = threading.Thread(target=lambda: got.update(events=sse_events(server, job_id)))
        reader.start()
        http.post("/api/queue/resume")
        reader.join(30)
    events = got["events"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "job_queued" and kinds[1] == "job_started" and kinds[-1] == "job_finished"
    assert kinds.index("run_started") < kinds.index("node_started") < kinds.index("node_finished")
    progress = [e for e in events if e["type"] == "node_progress"]
    assert [(e["value"], e["max"]) for e in progress] == [(1, 3), (2, 3), (3, 3)]
    assert all(e["preview"].startswith("data:image/jpeg;base64,") for e in progress)
    assert {e["run_id"] for e in events} == {job_id}  # the other job's events never leak in
    assert events[-1]["status"] == "success"
    assert [e for e in events if e["type"] == "run_finished"][0]["status"] == "success"


def test_websocket_streams_events_and_reports_failures_and_cached_nodes(server):
    from websockets.sync.client import connect

    with server.client("ws") as http:
        first = http.post("/api/jobs", json={"workflow": PICTURE}).json()["id"]
        http.get(f"/api/jobs/{first}/wait")
        again = http.post("/api/jobs", json={"workflow": PICTURE}).json()["id"]  # TestPicture now cached
        with connect(f"ws://127.0.0.1:{server.port}/api/jobs/{again}/ws", open_timeout=10) as ws:
            events = [json.loads(m) for m in ws]
        divide = doc([("m", "Math", {"a": 1.0, "b": 0.0, "op": "divide"}), ("w", "ShowValue", {})],
                     [("m", "result", "w", "value")])
        bad = http.post("/api/jobs", json={"workflow": divide}).json()["id"]
        with connect(f"ws://127.0.0.1:{server.port}/api/jobs/{bad}/ws", open_timeout=10) as ws:
            failed = [json.loads(m) for m in ws]
    assert [e["node"] for e in events if e["type"] == "node_cached"] == ["p"]
    assert [e["node"] for e in events if e["type"] == "node_finished"] == ["save"]
    assert events[-1] == {"type": "job_finished", "run_id": again, "status": "success"}
    (fail,) = [e for e in failed if e["type"] == "node_failed"]
    assert (fail["node"], fail["input"]) == ("m", "b") and "divide by zero" in fail["message"]
    assert failed[-1]["status"] == "error"


def test_python_client_runs_cancels_and_reports_failures(server, executor):
    from fluxwire.client import Client, JobFailed
    from flux_core.client import ApiError

    client = Client(server.url)
    result = client.run(PICTURE, {"p.seed": 11})
    (png,) = result["images"]
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (40, 24)
    ref = result["outputs"]["save"]["images"][0]
    assert png == (executor.env.output_dir / ref["subfolder"] / ref["filename"]).read_bytes()
    assert client.run(QUICK, {"v.value": 5}, images=False)["outputs"]["w"]["text"] == "5"

    with pytest.raises(ApiError) as bad:
        client.submit(QUICK, {"v.value": "five"})
    assert bad.value.status == 400 and bad.value.problems[0]["input"] == "value"
    with pytest.raises(JobFailed, match="node 'm', input 'b'"):
        client.run(doc([("m", "Math", {"a": 1.0, "b": 0.0, "op": "divide"}), ("w", "ShowValue", {})],
                       [("m", "result", "w", "value")]))

    slow = client.submit(SLOW)
    kinds = []
    for event in client.events(slow):
        kinds.append(event["type"])
        if event["type"] == "node_progress" and event["value"] == 2:
            assert client.cancel(slow)
    assert kinds[-1] == "job_finished" and client.job(slow)["status"] == "cancelled"
    other = Client(server.url)
    assert {j["id"] for j in other.jobs()} == set()  # another client's id sees none of these jobs
    assert slow in {j["id"] for j in client.jobs()}
