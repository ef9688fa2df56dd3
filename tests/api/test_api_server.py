"""The HTTP API against a real server and real HTTP clients: jobs, results, queue control, tokens."""
from __future__ import annotations

import io
import socket
import threading

import httpx
import numpy as np
import pytest
from PIL import Image

from .conftest import PICTURE, QUICK, SLOW, Server, doc, wait_status


def test_five_clients_twenty_jobs_each_get_exactly_their_own_results(server):
    failures, ids_of = [], {}

    def client_work(n):
        with server.client(f"client-{n}") as http:
            values = [n * 1000 + i for i in range(20)]
            ids = {}
            for v in values:
                r = http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": v}})
                assert r.status_code == 202, r.text
                ids[r.json()["id"]] = v
            ids_of[n] = ids
            for job_id, v in ids.items():
                record = http.get(f"/api/jobs/{job_id}/wait", params={"timeout": 60}).json()
                if record["status"] != "success" or record["outputs"]["w"]["text"] != repr(v):
                    failures.append((n, v, record))
            mine = http.get("/api/jobs", params={"history": 100}).json()
            listed = {j["id"] for j in mine["jobs"]} | {j["id"] for j in mine["history"]}
            if listed != set(ids):
                failures.append((n, "listing", sorted(listed ^ set(ids))))

    threads = [threading.Thread(target=client_work, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:3]
    assert sum(len(i) for i in ids_of.values()) == 100
    with server.client() as http:
        done = http.get("/api/history", params={"limit": 1000}).json()["jobs"]
    assert len({j["id"] for j in done if j["status"] == "success"}) == 100


def test_result_has_image_urls_timings_and_the_picture_served(server, executor):
    with server.client("pic") as http:
        job_id = http.post("/api/jobs", json={"workflow": PICTURE}).json()["id"]
        record = http.get(f"/api/jobs/{job_id}/wait").json()
        assert record["status"] == "success", record
        assert set(record["timings"]) == {"p", "save"}
        (ref,) = record["outputs"]["save"]["images"]
        assert ref["type"] == "output"
        served = http.get("/api/view", params=ref)
        assert served.status_code == 200
        picture = np.asarray(Image.open(io.BytesIO(served.content)))
        on_disk = np.asarray(Image.open(executor.env.output_dir / ref["subfolder"] / ref["filename"]))
        assert picture.shape == (24, 40, 3) and np.array_equal(picture, on_disk)
        assert http.get("/api/view", params={"filename": "../../etc/passwd"}).status_code == 400


def test_bad_documents_and_failures_name_the_node_and_input(server):
    with server.client("bad") as http:
        r = http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": "twelve"}})
        assert r.status_code == 400
        (problem,) = r.json()["problems"]
        assert (problem["node"], problem["input"]) == ("v", "value")
        r = http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"nope.value": 1}})
        assert r.status_code == 400 and r.json()["problems"][0]["node"] == "nope"
        divide = doc([("m", "Math", {"a": 1.0, "b": 0.0, "op": "divide"}), ("w", "ShowValue", {})],
                     [("m", "result", "w", "value")])
        job_id = http.post("/api/jobs", json={"workflow": divide}).json()["id"]
        record = http.get(f"/api/jobs/{job_id}/wait").json()
        assert record["status"] == "error"
        assert record["error"]["node"] == "m" and record["error"]["input"] == "b"
        assert "divide by zero" in record["error"]["message"]
        assert http.get("/api/jobs/000000000000").status_code == 404


def test_pause_reorder_cancel_clear_and_cancel_running(server):
    with server.client("q") as http:
        assert http.post("/api/queue/pause").json()["paused"] is True
        ids = [http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": i}}).json()["id"]
               for i in range(3)]
        waiting = [w["id"] for w in http.get("/api/queue").json()["waiting"]]
        assert waiting == ids
        queue = http.post(f"/api/queue/{ids[2]}/move", json={"position": 0}).json()
        assert [w["id"] for w in queue["waiting"]] == [ids[2], ids[0], ids[1]]
        assert http.delete(f"/api/jobs/{ids[1]}").json() == {"cancelled": True}
        assert http.get(f"/api/jobs/{ids[0]}").json()["status"] == "queued"  # paused: nothing started
        http.post("/api/queue/resume")
        first, third = (http.get(f"/api/jobs/{i}/wait").json() for i in (ids[0], ids[2]))
        assert first["status"] == third["status"] == "success"
        assert third["started"] < first["started"]  # moved to the front, ran first
        assert http.get(f"/api/jobs/{ids[1]}").json()["status"] == "cancelled"

        http.post("/api/queue/pause")
        more = [http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": 50 + i}}).json()["id"]
                for i in range(4)]
        assert sorted(http.post("/api/queue/clear").json()["cancelled"]) == sorted(more)
        assert http.get("/api/queue").json()["waiting"] == []
        http.post("/api/queue/resume")
        assert {http.get(f"/api/jobs/{i}").json()["status"] for i in more} == {"cancelled"}

        slow = http.post("/api/jobs", json={"workflow": SLOW}).json()["id"]
        wait_status(http, slow, {"running"})
        assert http.delete(f"/api/jobs/{slow}").json() == {"cancelled": True}
        record = wait_status(http, slow, {"cancelled", "interrupted", "success"}, timeout=5)
        assert record["status"] == "cancelled"
        after = http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": 99}}).json()["id"]
        assert http.get(f"/api/jobs/{after}/wait").json()["outputs"]["w"]["text"] == "99"


def test_token_is_required_off_the_default_loopback_address(executor):
    server = Server(executor, host="127.0.0.2")  # not 127.0.0.1: a token is generated and demanded
    try:
        assert server.generated and server.token
        with server.client("t", token=None) as anonymous:
            assert anonymous.get("/api/queue").status_code == 401
            assert anonymous.post("/api/jobs", json={"workflow": QUICK}).status_code == 401
        with server.client("t", token="wrong") as wrong:
            assert wrong.get("/api/nodes").status_code == 401
        with server.client("t") as http:
            assert http.get("/api/queue").status_code == 200
            job_id = http.post("/api/jobs", json={"workflow": QUICK}).json()["id"]
            assert http.get(f"/api/jobs/{job_id}/wait").json()["status"] == "success"
        assert httpx.get(f"{server.url}/api/queue", params={"token": server.token}).status_code == 200
    finally:
        server.close()


def test_history_survives_a_restart_and_is_bounded(executor):
    from web.api.history import History

    server = Server(executor)
    with server.client("h") as http:
        job_id = http.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": 31}}).json()["id"]
        assert http.get(f"/api/jobs/{job_id}/wait").json()["status"] == "success"
    server.close()
    server = Server(executor)  # a new service reading the same database
    try:
        with server.client() as http:
            record = http.get(f"/api/jobs/{job_id}").json()
            assert record["status"] == "success" and record["outputs"]["w"]["text"] == "31"
    finally:
        server.close()
    small = History(executor.env.output_dir / "small", limit=5)
    for i in range(12):
        small.add({"id": f"j{i}", "finished": i}, "o")
    assert [r["id"] for r in small.newest(100)] == [f"j{i}" for i in range(11, 6, -1)]


def test_upload_checks_content_and_stays_in_the_input_folder(server, executor):
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 10, 10)).save(buf, format="PNG")
    with server.client("u") as http:
        r = http.post("/api/uploads", files={"image": ("../../evil name.png", buf.getvalue(), "image/png")})
        assert r.status_code == 200, r.text
        name = r.json()["name"]
        assert "/" not in name and (executor.env.input_dir / name).read_bytes() == buf.getvalue()
        r = http.post("/api/uploads", files={"image": ("notes.png", b"not a picture at all", "image/png")})
        assert r.status_code == 400 and "not a picture" in r.json()["error"]
        r = http.post("/api/uploads", files={"image": ("script.sh", b"echo hi", "text/plain")})
        assert r.status_code == 400
    # a body declared larger than the limit is refused before it is sent (raw socket: only the headers)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(f"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {200 * 2**20}\r\n\r\n".encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 413")


def test_catalogue_models_and_openapi(server, executor):
    folder = executor.env.models_dir / "loras"
    folder.mkdir(parents=True)
    from safetensors.torch import save_file
    import torch

    save_file({"w": torch.zeros(2)}, folder / "style.safetensors")
    with server.client() as http:
        assert "style.safetensors" in http.get("/api/models/loras").json()["models"]
        assert "style.safetensors" in http.get("/api/models").json()["loras"]
        assert http.get("/api/models/nope").status_code == 404
        types = {n["type"] for n in http.get("/api/nodes").json()["nodes"]}
        assert {"SlowSteps", "ShowValue", "IntValue"} <= types
        schema = http.get("/api/openapi.json").json()
        assert {"/api/jobs", "/api/jobs/{job_id}", "/api/queue/pause", "/api/uploads"} <= set(schema["paths"])
        assert http.get("/api/docs").status_code == 200
