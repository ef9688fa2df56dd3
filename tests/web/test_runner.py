"""The run generator behind the canvas, without a browser or a server."""
from __future__ import annotations

import base64
import io
import json
import threading
import time

import pytest
from PIL import Image

from flux_core.graph.validation import check
from flux_core.graph.workflow import WorkflowError, parse_document
from web.runner import CanvasRunner, with_workflow

FINAL = {"success", "error", "interrupted", "invalid"}


def doc(nodes, links=()):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "t"},
            "nodes": [{"id": i, "type": t, "widgets": w} for i, t, w in nodes],
            "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links]}


def states(runner, graph, **kw):
    """Every state the generator yields, deep-copied (the generator re-yields one dict)."""
    return [json.loads(json.dumps(s)) for s in runner.run(graph, **kw)]


def test_a_run_streams_node_states_and_ends_with_the_value_shown(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.01)
    graph = doc([("a", "IntValue", {"value": 41}), ("b", "Math", {"b": 1.5, "op": "add"}),
                 ("show", "ShowValue", {})], [("a", "value", "b", "a"), ("b", "result", "show", "value")])
    seen = states(runner, graph)
    final = seen[-1]
    assert final["status"] == "success"
    assert {nid: s["status"] for nid, s in final["nodes"].items()} == {"a": "done", "b": "done", "show": "done"}
    assert final["nodes"]["show"]["text"] == repr(41 + 1.5)
    assert all(s["status"] not in FINAL for s in seen[:-1])
    # the second run of the same graph comes from the cache
    again = states(runner, graph)[-1]
    assert {nid: s["status"] for nid, s in again["nodes"].items()} == {"a": "cached", "b": "cached", "show": "done"}
    assert again["nodes"]["show"]["text"] == repr(42.5)


def test_a_partial_run_computes_only_what_the_selected_node_needs(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.01)
    graph = doc([("a", "IntValue", {"value": 2}), ("s1", "ShowValue", {}), ("f", "FloatValue", {"value": 1.0}),
                 ("s2", "ShowValue", {})], [("a", "value", "s1", "value"), ("f", "value", "s2", "value")])
    final = states(runner, graph, targets=["s1"])[-1]
    assert final["status"] == "success"
    assert set(final["nodes"]) == {"a", "s1"}


def test_an_invalid_graph_gets_the_same_problems_as_the_cli(executor, publisher, registry):
    runner = CanvasRunner(executor, publisher)
    graph = doc([("t", "StringValue", {"value": "x"}), ("m", "Math", {"op": "modulo"}), ("u", "NoSuchNode", {})],
                [("t", "value", "m", "a")])
    final = states(runner, graph)[-1]
    assert final["status"] == "invalid"
    with pytest.raises(WorkflowError) as cli:
        check(parse_document(graph), registry, executor.env)
    assert final["problems"] == [p.to_dict() for p in cli.value.problems]
    assert final["nodes"]["m"]["status"] == "error" and final["nodes"]["u"]["status"] == "error"
    assert {p["code"] for p in final["problems"]} >= {"type_mismatch", "bad_value", "unknown_type"}


def test_a_failing_node_is_reported_with_its_input(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.01)
    graph = doc([("m", "Math", {"a": 1.0, "b": 0.0, "op": "divide"}), ("s", "ShowValue", {})],
                [("m", "result", "s", "value")])
    final = states(runner, graph)[-1]
    assert final["status"] == "error"
    m = final["nodes"]["m"]
    assert (m["status"], m["error"], m["input"]) == ("error", "cannot divide by zero", "b")
    assert final["nodes"]["s"]["status"] == "idle"
    assert final["problems"][0]["node"] == "m"


def test_progress_previews_are_small_jpegs(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.01)
    graph = doc([("slow", "SlowSteps", {"steps": 4, "delay": 0.05}), ("s", "ShowValue", {})],
                [("slow", "count", "s", "value")])
    seen = states(runner, graph)
    running = [s["nodes"]["slow"] for s in seen if s["nodes"].get("slow", {}).get("status") == "running"]
    assert running and running[-1]["max"] == 4
    previews = [s["nodes"]["slow"]["preview"] for s in seen if "preview" in s["nodes"].get("slow", {})]
    assert previews
    head, data = previews[-1].split(",", 1)
    assert head == "data:image/jpeg;base64"
    img = Image.open(io.BytesIO(base64.b64decode(data)))
    assert img.format == "JPEG" and img.size == (64, 48)
    assert seen[-1]["nodes"]["s"]["text"] == "4"


def test_result_images_are_published_with_their_workflow(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.01)
    graph = doc([("p", "TestPicture", {"width": 40, "height": 30, "delay": 0.0}), ("w", "WritePicture", {})],
                [("p", "image", "w", "image")])
    final = states(runner, graph)[-1]
    assert final["status"] == "success"
    [shown] = final["nodes"]["w"]["images"]
    assert final["images"] == [shown["path"]]
    with Image.open(shown["path"]) as img:
        assert img.size == (40, 30)
        embedded = json.loads(img.text["fluxwire.workflow"])  # read back by PIL, not by our code
    assert embedded["nodes"] == parse_document(graph).to_dict()["nodes"]
    assert str(publisher.folder) in shown["path"]


def test_with_workflow_keeps_an_existing_workflow_and_pixels():
    buf = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 200, 30)).save(buf, format="PNG")
    once = with_workflow(buf.getvalue(), '{"prompt": "ünïcode"}')
    twice = with_workflow(once, '{"other": 1}')
    assert once == twice
    img = Image.open(io.BytesIO(once))
    assert img.text["fluxwire.workflow"] == '{"prompt": "ünïcode"}'
    assert img.getpixel((2, 2)) == (10, 200, 30)


def _run_in_thread(runner, graph, session):
    out = {"states": []}

    def go():
        for s in runner.run(graph, session=session):
            out["states"].append(json.loads(json.dumps(s)))
    t = threading.Thread(target=go)
    t.start()
    return t, out


def test_stop_interrupts_only_the_session_that_asked(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.02)
    graph = doc([("slow", "SlowSteps", {"steps": 200, "delay": 0.02}), ("s", "ShowValue", {})],
                [("slow", "count", "s", "value")])
    t, out = _run_in_thread(runner, graph, "tab-A")
    deadline = time.time() + 10
    while time.time() < deadline and not any(
            st["nodes"].get("slow", {}).get("status") == "running" for st in out["states"]):
        time.sleep(0.02)
    assert runner.stop("tab-B") is False  # another tab cannot stop this run
    time.sleep(0.1)
    assert t.is_alive()
    assert runner.stop("tab-A") is True
    t.join(10)
    final = out["states"][-1]
    assert final["status"] == "interrupted"
    assert final["nodes"]["slow"]["status"] == "idle" and final["nodes"]["s"]["status"] == "idle"
    assert "text" not in final["nodes"]["s"]


def test_two_tabs_share_the_cache_but_never_see_each_others_nodes(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.01)
    g1 = doc([("a1", "SlowSteps", {"steps": 3, "delay": 0.05}), ("s1", "ShowValue", {})], [("a1", "count", "s1", "value")])
    g2 = doc([("a2", "SlowSteps", {"steps": 3, "delay": 0.05}), ("s2", "ShowValue", {})], [("a2", "count", "s2", "value")])
    t1, out1 = _run_in_thread(runner, g1, "tab-1")
    t2, out2 = _run_in_thread(runner, g2, "tab-2")
    t1.join(20), t2.join(20)
    ids1 = {n for s in out1["states"] for n in s["nodes"]}
    ids2 = {n for s in out2["states"] for n in s["nodes"]}
    assert ids1 == {"a1", "s1"} and ids2 == {"a2", "s2"}
    finals = [out1["states"][-1], out2["states"][-1]]
    assert [f["status"] for f in finals] == ["success", "success"]
    # same work under other ids: whichever ran second took the computation from the shared cache; the
    # output node ran for each tab (its result belongs to the run that asked for it)
    statuses = sorted((f["nodes"].get("a1", f["nodes"].get("a2"))["status"],
                       f["nodes"].get("s1", f["nodes"].get("s2"))["status"]) for f in finals)
    assert statuses == [("cached", "done"), ("done", "done")]


def test_text_from_the_browser_is_never_read_as_a_server_path(executor, publisher, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(doc([("s", "ShowValue", {})])))
    runner = CanvasRunner(executor, publisher)
    for sent in (str(secret), [1, 2], None):
        final = states(runner, sent)[-1]
        assert final["status"] == "invalid"
        assert [p["code"] for p in final["problems"]] == ["not_an_object"]


def test_a_stop_while_queued_cancels_the_run_before_it_starts(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.02)
    busy = doc([("slow", "SlowSteps", {"steps": 100, "delay": 0.02}), ("s", "ShowValue", {})],
               [("slow", "count", "s", "value")])
    waiting = doc([("v", "IntValue", {"value": 7}), ("w", "ShowValue", {})], [("v", "value", "w", "value")])
    t1, out1 = _run_in_thread(runner, busy, "tab-A")
    deadline = time.time() + 10
    while time.time() < deadline and not any(st["nodes"].get("slow", {}).get("status") == "running"
                                              for st in out1["states"]):
        time.sleep(0.02)
    t2, out2 = _run_in_thread(runner, waiting, "tab-B")
    while time.time() < deadline and not any("ahead" in st["message"] for st in out2["states"]):
        time.sleep(0.02)
    assert runner.stop(None) is False and runner.stop("") is False  # no session: nothing is stopped
    assert runner.stop("tab-B") is True  # B's run is still waiting for A's
    t2.join(10)
    final = out2["states"][-1]
    assert final["status"] == "interrupted" and final["message"] == "stopped before it started"
    assert "w" not in final["nodes"] and "text" not in json.dumps(final)  # it never ran
    assert t1.is_alive()  # A's run was not touched
    assert runner.stop("tab-A") is True
    t1.join(10)
    assert out1["states"][-1]["status"] == "interrupted"
    # the board is empty again and the executor serves the next run normally
    assert states(runner, waiting, session="tab-B")[-1]["status"] == "success"
    assert runner.board.jobs_of("tab-A") == [] and runner.board.jobs_of("tab-B") == []


def test_a_client_that_goes_away_stops_its_run_and_frees_the_executor(executor, publisher):
    runner = CanvasRunner(executor, publisher, yield_interval=0.02)
    graph = doc([("slow", "SlowSteps", {"steps": 500, "delay": 0.02}), ("s", "ShowValue", {})],
                [("slow", "count", "s", "value")])
    events = []
    executor.subscribe(events.append)
    gen = runner.run(graph, session="tab-gone")
    for state in gen:
        if state["nodes"].get("slow", {}).get("status") == "running":
            break
    gen.close()  # what Gradio does when the browser tab closes
    deadline = time.time() + 5
    while time.time() < deadline and not any(e["type"] == "run_interrupted" for e in events):
        time.sleep(0.02)
    assert any(e["type"] == "run_interrupted" for e in events)
    assert runner.board.jobs_of("tab-gone") == []
    quick = doc([("v", "IntValue", {"value": 1}), ("w", "ShowValue", {})], [("v", "value", "w", "value")])
    assert states(runner, quick, session="tab-next")[-1]["status"] == "success"


def test_a_slow_consumer_gets_few_states_not_one_per_node_event(executor, publisher):
    # a browser busy drawing takes each state slowly; the time it takes must not count towards the next
    # state, or it gets one state per node event (each costs the page a full copy of the run state)
    runner = CanvasRunner(executor, publisher, yield_interval=0.05)
    count = 40
    nodes = [("n0", "IntValue", {"value": 1})] + [(f"n{i}", "Math", {"b": 1.0, "op": "add"}) for i in range(1, count)]
    links = [(f"n{i - 1}", "value" if i == 1 else "result", f"n{i}", "a") for i in range(1, count)]
    graph = doc(nodes + [("show", "ShowValue", {})], links + [(f"n{count - 1}", "result", "show", "value")])
    seen = []
    for s in runner.run(graph):
        seen.append(json.loads(json.dumps(s)))
        time.sleep(0.2)  # slower than the interval
    assert seen[-1]["status"] == "success" and seen[-1]["nodes"]["show"]["text"] == repr(float(count))
    assert len(seen) < count // 2, [s["message"] for s in seen]
