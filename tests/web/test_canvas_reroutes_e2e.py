"""Reading big graphs in a real browser (issue 17): reroute points, the minimap, and bypass/mute inside an
opened subgraph — checked on the page, in the document the canvas sends, in the file the server saved, and
in what the run computed."""
from __future__ import annotations

import json

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import centre, doc, node, open_workflow, wire

pytestmark = pytest.mark.e2e



def on_wire(page, src, out, dst, inp, at=0.5):
    """Page coordinates of the point `at` (0..1 of its length) along a drawn wire."""
    return page.evaluate("""([sel, at]) => {
        const p = document.querySelector(sel);
        const q = p.getPointAtLength(p.getTotalLength() * at), m = p.getScreenCTM();
        return [q.x * m.a + q.y * m.c + m.e, q.x * m.b + q.y * m.d + m.f];
    }""", [f'path.fw-wire[data-from="{src}"][data-output="{out}"][data-to="{dst}"][data-input="{inp}"]', at])


def dot(page, rid):
    return page.locator(f'.fw-reroute[data-reroute="{rid}"]')


def wait_run(page):
    page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
    page.click('[data-action="run"]')
    page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
    assert page.locator(".fw-root").get_attribute("data-run-status") == "success", \
        page.locator('[data-role="banner"]').text_content()


def test_reroute_points_insert_drag_fan_out_delete_and_round_trip(page, tmp_path, workflows_dir, artifacts):
    open_workflow(page, doc([("a", "IntValue", {"value": 7}, (40, 40)), ("b", "ShowValue", {}, (700, 40)),
                             ("c", "ShowValue", {}, (700, 400))], [("a", "value", "b", "value")]), tmp_path)
    # the wire's menu inserts a point where it was clicked
    x, y = on_wire(page, "a", "value", "b", "value")
    page.mouse.click(x, y, button="right")
    page.click('[data-menu="insert-reroute"]')
    assert wire(page, "a", "value", "b", "value").get_attribute("data-via") == "r1"
    bx, by = centre(dot(page, "r1"))
    assert abs(bx - x) < 3 and abs(by - y) < 3
    # drag it down: the wire now bends through it, and the document says where it is
    d_before = wire(page, "a", "value", "b", "value").get_attribute("d")
    page.mouse.move(bx, by)
    page.mouse.down()
    page.mouse.move(bx, by + 200, steps=8)
    page.mouse.up()
    assert wire(page, "a", "value", "b", "value").get_attribute("d") != d_before
    nx, ny = centre(dot(page, "r1"))
    assert abs(ny - by - 200) < 2
    x2, y2 = on_wire(page, "a", "value", "b", "value", 0.25)  # the wire passes through the moved point
    document = sent(page)
    (r1,) = document["extra"]["reroutes"]
    assert r1["id"] == "r1" and r1["parent"] is None and document["extra"]["link_reroutes"] == {"b/value": "r1"}
    # Alt+click on the piece after the point: a second point, after the first
    x3, y3 = on_wire(page, "a", "value", "b", "value", 0.8)
    page.keyboard.down("Alt")
    page.mouse.click(x3, y3)
    page.keyboard.up("Alt")
    assert wire(page, "a", "value", "b", "value").get_attribute("data-via") == "r1 r2"
    # Shift+drag from the first point to c: a second link from the same output through it (fan-out)
    page.keyboard.down("Shift")
    page.mouse.move(nx, ny)
    page.mouse.down()
    cx, cy = centre(node(page, "c").locator('[data-socket-dir="in"][data-socket-name="value"]'))
    page.mouse.move(cx, cy, steps=10)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert wire(page, "a", "value", "c", "value").get_attribute("data-via") == "r1"
    document = sent(page)
    points = {p["id"]: p for p in document["extra"]["reroutes"]}
    assert points["r2"]["parent"] == "r1" and points["r1"]["parent"] is None
    assert document["extra"]["link_reroutes"] == {"b/value": "r2", "c/value": "r1"}
    assert page.locator(".fw-reroute").count() == 2
    page.screenshot(path=str(artifacts / "daily-reroutes.png"))
    # the engine never sees them: the run goes through as without points
    wait_run(page)
    assert node(page, "b").locator(".fw-text").text_content() == "7"
    assert node(page, "c").locator(".fw-text").text_content() == "7"
    # saved in the workflows folder and opened again: the same points, the same wires through them
    page.click('[data-action="save-as"]')
    page.fill('[data-field="workflow-name"]', "rerouted")
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="doc-name"]:text-is("rerouted")')
    saved = json.loads((workflows_dir / "rerouted.json").read_text())
    assert saved["extra"]["reroutes"] == document["extra"]["reroutes"]
    assert saved["extra"]["link_reroutes"] == {"b/value": "r2", "c/value": "r1"}
    page.click('[data-action="new"]')
    page.wait_for_function("document.querySelectorAll('.fw-reroute').length === 0")
    page.locator('[data-role="stage"]').click(position={"x": 8, "y": 8})
    page.keyboard.press("Control+o")
    page.locator('[data-workflow="rerouted"] [data-action="open-workflow"]').click()
    page.wait_for_selector('.fw-reroute[data-reroute="r2"]')
    assert wire(page, "a", "value", "b", "value").get_attribute("data-via") == "r1 r2"
    assert wire(page, "a", "value", "c", "value").get_attribute("data-via") == "r1"
    # delete the shared point: both wires stay, b's now goes through r2 alone
    dot(page, "r1").click()
    page.keyboard.press("Delete")
    assert page.locator(".fw-reroute").count() == 1
    assert wire(page, "a", "value", "b", "value").get_attribute("data-via") == "r2"
    assert wire(page, "a", "value", "c", "value").count() == 1
    assert wire(page, "a", "value", "c", "value").get_attribute("data-via") is None
    document = sent(page)
    assert document["extra"]["reroutes"] == [{"id": "r2", "pos": points["r2"]["pos"], "parent": None}]
    assert document["extra"]["link_reroutes"] == {"b/value": "r2"}
    # undo brings the point back with its wires
    page.keyboard.press("Control+z")
    page.wait_for_selector('.fw-reroute[data-reroute="r1"]')
    assert wire(page, "a", "value", "c", "value").get_attribute("data-via") == "r1"
    # a stale entry (its link deleted) is dropped on the next save
    page.mouse.click(*on_wire(page, "a", "value", "c", "value", 0.9), button="right")
    page.click('[data-menu="delete-wire"]')
    document = sent(page)
    assert document["extra"]["link_reroutes"] == {"b/value": "r2"}
    assert sorted(p["id"] for p in document["extra"]["reroutes"]) == ["r1", "r2"]  # r1 still carries b's wire


def test_minimap_shows_the_graph_and_moves_the_view(page, tmp_path, artifacts):
    open_workflow(page, doc([("a", "IntValue", {}, (0, 0)), ("far", "ShowValue", {}, (3000, 2000))]), tmp_path)
    node(page, "a").locator(".fw-title").click()
    page.keyboard.press(".")  # a in view, far outside it
    minimap = page.locator('[data-role="minimap"]')
    assert minimap.is_hidden()
    page.click('[data-action="minimap"]')
    page.wait_for_selector('[data-role="minimap"][data-nodes="2"]')
    x0, y0, x1, y1 = map(float, minimap.get_attribute("data-view").split(","))
    assert x0 <= 0 <= x1 and not (x0 <= 3000 <= x1 and y0 <= 2000 <= y1)
    page.screenshot(path=str(artifacts / "daily-minimap.png"))
    # the map spans both nodes, so far lies towards its bottom right: a click there moves the view that way
    box = minimap.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8)
    page.wait_for_timeout(100)
    x0b, y0b, x1b, y1b = map(float, minimap.get_attribute("data-view").split(","))
    assert x0b > x0 and y0b > y0  # the view went towards far
    # drag on the map until far is on screen
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, box["y"] + box["height"] * 0.85, steps=6)
    page.mouse.up()
    stage = page.locator('[data-role="stage"]').bounding_box()
    far = node(page, "far").bounding_box()
    assert stage["x"] < far["x"] + far["width"] and far["x"] < stage["x"] + stage["width"]
    assert stage["y"] < far["y"] + far["height"] and far["y"] < stage["y"] + stage["height"]
    # remembered across reloads
    page.reload()
    page.wait_for_selector('.fw-root[data-ready="1"]')
    assert page.locator('[data-role="minimap"]').is_visible()


def subgraph_document():
    inner = {"name": "scale", "inputs": [{"name": "x", "type": "FLOAT"}], "outputs": [{"name": "y", "type": "FLOAT"}],
             "nodes": [{"id": "m", "type": "Math", "widgets": {"b": 10.0, "op": "multiply"}, "ui": {"pos": [300, 40]}}],
             "links": [{"from": "@inputs", "output": "x", "to": "m", "input": "a"},
                       {"from": "m", "output": "result", "to": "@outputs", "input": "y"}]}
    d = doc([("n", "IntValue", {"value": 3}, (40, 40)), ("s", "ShowValue", {}, (700, 40))],
            [("n", "value", "i", "x"), ("i", "y", "s", "value")], title="modes inside")
    d["version"] = 2
    d["nodes"].append({"id": "i", "type": "Subgraph", "subgraph": {"id": "scale"}, "widgets": {}, "ui": {"pos": [360, 40]}})
    d["subgraphs"] = {"scale": inner}
    return d


def test_bypass_inside_an_opened_subgraph_is_saved_in_the_definition_and_run(page, tmp_path, artifacts):
    open_workflow(page, subgraph_document(), tmp_path)
    wait_run(page)
    assert node(page, "s").locator(".fw-text").text_content() == "30.0"
    node(page, "i").locator('[data-action="open-subgraph"]').click()
    page.wait_for_selector('.fw-node[data-node-id="m"]')
    node(page, "m").locator(".fw-title").click()
    page.keyboard.press("Control+b")
    assert node(page, "m").get_attribute("data-mode") == "bypass"
    document = sent(page)
    assert document["subgraphs"]["scale"]["nodes"][0]["mode"] == "bypass"
    assert "mode" not in {k for n in document["nodes"] for k in n}
    page.screenshot(path=str(artifacts / "daily-bypass-in-subgraph.png"))
    page.locator('[data-action="breadcrumb"][data-level="0"]').click()
    page.wait_for_selector('.fw-node[data-node-id="s"]')
    wait_run(page)
    assert node(page, "s").locator(".fw-text").text_content() == "3"  # passed through the bypassed Math
    node(page, "i").locator('[data-action="open-subgraph"]').click()
    page.wait_for_selector('.fw-node[data-node-id="m"]')
    node(page, "m").locator(".fw-title").click()
    page.keyboard.press("Control+m")
    assert node(page, "m").get_attribute("data-mode") == "mute"
    assert sent(page)["subgraphs"]["scale"]["nodes"][0]["mode"] == "mute"
