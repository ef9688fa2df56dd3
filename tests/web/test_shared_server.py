"""One server, several clients: nobody stops, reads or overwrites another client's run.

A real Gradio server in this process and real clients: `gradio_client` (each Client is its own session,
like a browser tab) and plain HTTP requests without any session.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
import urllib.error
import urllib.request

import pytest
from PIL import Image

from .canvas_helpers import launch_app


def doc(nodes, links=(), **metadata):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "shared", **metadata},
            "nodes": [{"id": i, "type": t, "widgets": w} for i, t, w in nodes],
            "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links]}


SLOW = doc([("slow", "SlowSteps", {"steps": 400, "delay": 0.05}), ("s", "ShowValue", {})],
           [("slow", "count", "s", "value")])
QUICK = doc([("v", "IntValue", {"value": 7}), ("w", "ShowValue", {})], [("v", "value", "w", "value")])


@pytest.fixture(scope="module")
def server(module_executor):
    demo, url = launch_app(module_executor)
    yield demo, url
    demo.close()


def client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def state_of(output) -> dict:
    update = output[0] if isinstance(output, (list, tuple)) else output
    return update["props"]["run_state"] if "props" in update else update["run_state"]


def wait_for(job, predicate, timeout=30.0) -> dict:
    """The first streamed state of a job for which predicate(state) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for out in job.outputs():
            st = state_of(out)
            if predicate(st):
                return st
        time.sleep(0.05)
    raise AssertionError(f"no such state within {timeout} s: {[state_of(o) for o in job.outputs()][-1:]}")


def final_state(job, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.done(), "the run did not end"
    return state_of(job.outputs()[-1])


def post(url, path, body: bytes, headers=None):
    req = urllib.request.Request(url + path, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def running(st) -> bool:
    return st["nodes"].get("slow", {}).get("status") == "running"


def test_nobody_but_the_owner_stops_a_run(server):
    _, url = server
    alice, bob = client(url), client(url)
    job = alice.submit(SLOW, api_name="/run_graph")
    wait_for(job, running)
    bob.predict(api_name="/stop_run")  # another tab
    status, _ = post(url, "gradio_api/run/stop_run", json.dumps({"data": []}).encode())  # no session at all
    assert status == 200
    time.sleep(0.5)
    assert not job.done(), "someone else's stop ended alice's run"
    value_before = wait_for(job, running)["nodes"]["slow"]["value"]
    time.sleep(0.3)
    assert wait_for(job, lambda st: running(st) and st["nodes"]["slow"]["value"] > value_before)
    alice.predict(api_name="/stop_run")
    final = final_state(job)
    assert final["status"] == "interrupted" and final["message"] == "stopped"
    assert 0 < final["nodes"]["slow"].get("value", 1) < 400


def test_a_stop_while_queued_cancels_the_run_and_only_that_one(server):
    _, url = server
    alice, bob = client(url), client(url)
    busy = alice.submit(SLOW, api_name="/run_graph")
    wait_for(busy, running)
    waiting = bob.submit(QUICK, api_name="/run_graph")
    wait_for(waiting, lambda st: "ahead" in st["message"])
    bob.predict(api_name="/stop_run")
    final = final_state(waiting, timeout=10)
    assert final["status"] == "interrupted" and final["message"] == "stopped before it started"
    assert "w" not in final["nodes"]  # it never ran
    assert not busy.done()
    alice.predict(api_name="/stop_run")
    assert final_state(busy)["status"] == "interrupted"
    # bob's next run is not affected by his earlier stop
    assert final_state(bob.submit(QUICK, api_name="/run_graph"))["status"] == "success"


def test_identical_graphs_give_each_client_its_own_file_and_document(server, module_executor):
    _, url = server
    module_executor.env.input_dir.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 16), (200, 30, 40)).save(module_executor.env.input_dir / "shared.png")
    same = [("load", "LoadImage", {"image": "shared.png"}), ("save", "SaveImage", {"filename_prefix": "shared"})]
    link = [("load", "image", "save", "images")]
    files = {}
    for who in ("alice", "bob"):
        out = client(url).predict(doc(same, link, author=who), api_name="/run_graph")
        st = state_of(out)
        assert st["status"] == "success", st
        [shown] = st["nodes"]["save"]["images"]  # gradio_client downloads {"path": ...} and gives the local copy
        files[who] = Path(shown if isinstance(shown, str) else shown["name"]).name
        [picture] = out[1]
        with Image.open(picture["image"]) as img:  # downloaded from the server, as the client sees it
            embedded = json.loads(img.text["fluxwire.workflow"])
            assert img.getpixel((3, 3)) == (200, 30, 40)
        assert embedded["metadata"]["author"] == who  # never the other client's document
    assert files["alice"] != files["bob"]  # bob's run wrote its own file; alice's is untouched
    output = module_executor.env.output_dir
    with Image.open(output / files["alice"]) as img:
        assert json.loads(img.text["fluxwire.workflow"])["metadata"]["author"] == "alice"


def test_another_clients_output_file_cannot_be_read_by_its_path(server, module_executor):
    _, url = server
    module_executor.env.output_dir.mkdir(parents=True, exist_ok=True)
    secret = module_executor.env.output_dir / "alice-secret.png"
    Image.new("RGB", (8, 8), "blue").save(secret)
    for path in (f"gradio_api/file={secret}", f"gradio_api/file={secret.resolve()}"):
        try:
            with urllib.request.urlopen(url + path, timeout=10) as res:
                status = res.status
        except urllib.error.HTTPError as e:
            status = e.code
        assert status in (403, 404), (path, status)


def component_call(server, fn_name, data, session="limits-test"):
    """Call one of the canvas's server functions over HTTP, as the page's JS does."""
    demo, url = server
    body = json.dumps({"session_hash": session, "component_id": demo.fluxwire_canvas._id, "fn_name": fn_name,
                       "data": data}).encode()
    return post(url, "gradio_api/component_server", body)


def test_a_huge_document_is_refused_at_the_door_and_others_are_served(server):
    import http.client
    from urllib.parse import urlparse

    _, url = server
    nodes = [{"id": str(i), "type": "IntValue"} for i in range(1_000_000)]
    huge = json.dumps({"session_hash": "x", "component_id": server[0].fluxwire_canvas._id, "fn_name": "validate_graph",
                       "data": {"format": "fluxwire.workflow", "version": 1, "nodes": nodes, "links": []}}).encode()
    where = urlparse(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    started = time.monotonic()
    conn.putrequest("POST", where.path + "gradio_api/component_server")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(huge)))
    conn.endheaders(huge[:65536])  # the server answers from the declared length, without reading the rest
    answer = conn.getresponse()
    status, body, seconds = answer.status, answer.read(), time.monotonic() - started
    conn.close()
    assert status == 413 and b"accepts at most" in body, (status, body[:300])
    assert seconds < 10, seconds  # (it used to take 48 s and 1.8 GB)
    status, body = component_call(server, "validate_graph", QUICK)  # the server serves others as before
    assert status == 200 and json.loads(body)["problems"] == []
    # under the byte limit but over the node limit: refused by counting, before validation
    compact = {"format": "fluxwire.workflow", "version": 1, "nodes": [{"id": str(i)} for i in range(100_001)],
               "links": []}
    status, body = component_call(server, "validate_graph", compact)
    answer = json.loads(body)
    assert status == 200 and answer["ok"] is False
    assert answer["problems"][0]["code"] == "too_large" and "100,000" in answer["message"]


def png_bytes(size=(8, 8), chunks=()) -> bytes:
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, format="PNG")
    data = buf.getvalue()
    extra = b"".join(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
                     for kind, body in chunks)
    end = data.rfind(b"IEND") - 4
    return data[:end] + extra + data[end:]


def declared_png(width: int, height: int) -> bytes:
    """A PNG header claiming width x height pixels, with almost no data behind it."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (20_000, 20_000), (8192, 8192)])
def test_oversized_pictures_are_refused_by_their_header_with_a_clear_answer(server, width, height):
    _, url = server
    status, body = component_call(server, "upload_image", {"name": "big.png", "data": b64(declared_png(width, height))})
    answer = json.loads(body)
    assert status == 200 and answer["ok"] is False, answer
    assert "pixels" in answer["message"] and "scale" in answer["message"], answer["message"]


def test_broken_png_text_chunks_are_answered_cleanly(server):
    import zlib

    _, url = server
    short_itxt = png_bytes(chunks=[(b"iTXt", b"fluxwire.workflo")])  # 16 bytes + nothing after the key
    tiny_itxt = png_bytes(chunks=[(b"iTXt", b"fluxwire.workflow")])  # the 17-byte chunk of the report
    bad_zlib = png_bytes(chunks=[(b"iTXt", b"fluxwire.workflow\0\1\0\0\0" + b"not zlib at all")])
    bomb = png_bytes(chunks=[(b"zTXt", b"fluxwire.workflow\0\0" + zlib.compress(b"\0" * (80 << 20), 9))])
    for name, data in (("short.png", short_itxt), ("tiny.png", tiny_itxt), ("badzlib.png", bad_zlib),
                       ("bomb.png", bomb)):
        status, body = component_call(server, "read_workflow_file", {"name": name, "data": b64(data)})
        answer = json.loads(body)
        assert status == 200, (name, body[:300])
        assert answer["ok"] is False and answer["workflow"] is None and answer["message"], (name, answer)


def test_the_plain_http_api_streams_a_run_to_its_end(server):
    """Gradio's curl-style API: POST the document, then read the event stream (no client library)."""
    _, url = server
    status, body = post(url, "gradio_api/call/run_graph", json.dumps({"data": [QUICK]}).encode())
    assert status == 200, body
    event_id = json.loads(body)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/run_graph/{event_id}", timeout=60) as res:
        stream = res.read().decode()
    events = [line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("event: ")]
    assert events[-1] == "complete", stream[-500:]
    last = json.loads([line for line in stream.splitlines() if line.startswith("data: ")][-1][6:])
    final = last[0]["props"]["run_state"]
    assert final["status"] == "success" and final["nodes"]["w"]["text"] == "7"
