"""Wires led around nodes (issue 17, "wires drawn behind nodes and routed around them where cheap"), in a real
browser on the real app: every wire whose route a change can alter is routed again (undo/redo of a move, a node
dropped onto a detour, collapse); backward wires loop round the nodes between; each piece of a wire through
reroute points is routed; Ctrl+Shift+V carries the reroute points of the links it keeps from outside the copy."""
from __future__ import annotations

import json

import pytest

from .canvas_helpers import sent
from .test_canvas_audit_e2e import CROSSINGS
from .test_canvas_e2e import centre, doc, node, open_workflow, wire

pytestmark = pytest.mark.e2e

INSIDE = """([sel, ids]) => {
    // the ids of the nodes (of `ids`) some point of the wire lies inside, 10 px clear of its two sockets
    const p = document.querySelector(sel), len = p.getTotalLength(), m = p.getScreenCTM(), hit = new Set();
    for (let i = 0; i <= 200; i++) {
      const at = len * i / 200;
      if (at < 10 / m.a || at > len - 10 / m.a) continue;
      const q = p.getPointAtLength(at), x = q.x * m.a + m.e, y = q.y * m.d + m.f;
      for (const id of ids) {
        const b = document.querySelector('.fw-node[data-node-id="' + id + '"]').getBoundingClientRect();
        if (x > b.left + 3 && x < b.right - 3 && y > b.top + 3 && y < b.bottom - 3) hit.add(id);
      }
    }
    return [...hit].sort(); }"""


def path_of(page, src, out, dst, inp):
    return wire(page, src, out, dst, inp).get_attribute("d")


def drag_title(page, node_id, dx, dy):
    x, y = centre(node(page, node_id).locator(".fw-title"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=6)
    page.mouse.up()


def test_undo_redo_and_collapse_route_the_other_wires_again(page, tmp_path):
    # a -> c runs plain; b (no wires) lies below it
    open_workflow(page, doc([("a", "IntValue", {}, (0, 100)), ("b", "Note", {"text": "in the way"}, (330, 400)),
                             ("c", "ShowValue", {}, (760, 100))], [("a", "value", "c", "value")]), tmp_path)
    plain = path_of(page, "a", "value", "c", "value")
    assert plain.count(" C") == 1
    # b dropped onto the wire: the wire is led round it
    drag_title(page, "b", 0, -330)
    detour = path_of(page, "a", "value", "c", "value")
    assert detour != plain and page.evaluate(CROSSINGS) == []
    # undo puts b back: the wire no longer needs its detour (only b was redrawn, b has no wires)
    page.keyboard.press("Control+z")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"b\"]').style.transform.endsWith(' 400px)')")
    assert path_of(page, "a", "value", "c", "value") == plain
    # redo moves b onto it again: the detour comes back
    page.keyboard.press("Control+y")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"b\"]').style.transform.endsWith(' 400px)') === false")
    assert path_of(page, "a", "value", "c", "value") == detour
    assert page.evaluate(CROSSINGS) == []
    # collapsing b (its title bar clears the wire's plain curve): the detour is dropped at once
    node(page, "b").locator(".fw-title").click()
    page.keyboard.press("Alt+c")
    assert "fw-collapsed" in node(page, "b").get_attribute("class")
    assert path_of(page, "a", "value", "c", "value") == plain


def test_a_node_dropped_onto_a_detour_makes_the_wire_route_again_also_on_redo(page, tmp_path):
    # a -> c goes round b; d is dropped where the detour runs, then the drop is undone and redone
    open_workflow(page, doc([("a", "IntValue", {}, (0, 100)), ("b", "Note", {"text": "in the way"}, (330, 60)),
                             ("c", "ShowValue", {}, (760, 100)), ("d", "Note", {"text": "dropped"}, (330, 600))],
                            [("a", "value", "c", "value")]), tmp_path)
    assert page.evaluate(CROSSINGS) == []
    around_b = path_of(page, "a", "value", "c", "value")
    # where the detour runs level, beside b
    mid = page.evaluate("""() => { const p = document.querySelector('path.fw-wire[data-to="c"]');
        const q = p.getPointAtLength(p.getTotalLength() / 2); return [q.x, q.y]; }""")
    b = page.evaluate("() => { const e = document.querySelector('.fw-node[data-node-id=\"b\"]'); return [e.offsetTop, e.offsetHeight]; }")
    over = mid[1] < b[0]
    target_y = mid[1] - (40 if over else 20)  # d's top just above (or on) the level part of the detour
    zoom = node(page, "d").bounding_box()["width"] / page.evaluate("() => document.querySelector('.fw-node[data-node-id=\"d\"]').offsetWidth")
    drag_title(page, "d", 0, (target_y - 600) * zoom)
    assert page.evaluate(INSIDE, ['path.fw-wire[data-to="c"]', ["d"]]) == [], "the wire must leave d's way on drop"
    rerouted = path_of(page, "a", "value", "c", "value")
    assert rerouted != around_b
    page.keyboard.press("Control+z")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"d\"]').style.transform.endsWith(' 600px)')")
    assert path_of(page, "a", "value", "c", "value") == around_b
    page.keyboard.press("Control+y")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"d\"]').style.transform.endsWith(' 600px)') === false")
    assert path_of(page, "a", "value", "c", "value") == rerouted
    assert page.evaluate(INSIDE, ['path.fw-wire[data-to="c"]', ["d"]]) == []


def test_a_backward_wire_loops_round_the_nodes_between(page, tmp_path, artifacts):
    # a's output is right of c's input, b sits between them at the same height
    open_workflow(page, doc([("c", "ShowValue", {}, (0, 100)), ("b", "Note", {"text": "between"}, (360, 90)),
                             ("a", "IntValue", {}, (720, 100))], [("a", "value", "c", "value")]), tmp_path)
    sel = 'path.fw-wire[data-from="a"][data-to="c"]'
    assert page.evaluate(INSIDE, [sel, ["a", "b", "c"]]) == []
    assert page.evaluate(CROSSINGS) == []
    # it leaves the output to the right and enters the input from the left, as in ComfyUI
    ends = page.evaluate("""(sel) => { const p = document.querySelector(sel), len = p.getTotalLength();
        const at = (t) => { const q = p.getPointAtLength(t); return [q.x, q.y]; };
        return [at(0), at(8), at(len - 8), at(len)]; }""", sel)
    assert ends[1][0] > ends[0][0] and ends[2][0] < ends[3][0]
    page.screenshot(path=str(artifacts / "routing-backward-wire.png"))
    # b very tall: a loop would cost too much height, the plain curve stays (drawn behind b)
    tall = doc([("c2", "ShowValue", {}, (0, 500)), ("b2", "Note", {"text": "tall"}, (360, 0)),
                ("a2", "IntValue", {}, (720, 500))], [("a2", "value", "c2", "value")])
    tall["nodes"][1]["ui"]["size"] = [220, 1200]
    open_workflow(page, tall, tmp_path, name="tall.json")
    d = path_of(page, "a2", "value", "c2", "value")
    assert d.count(" C") == 1 and " L" not in d


def test_each_piece_of_a_rerouted_wire_avoids_the_nodes(page, tmp_path, artifacts):
    # a -> r1 -> c: b lies across the piece from a to the point
    document = doc([("a", "IntValue", {}, (0, 100)), ("b", "Note", {"text": "in the way"}, (280, 60)),
                    ("c", "ShowValue", {}, (1000, 100))], [("a", "value", "c", "value")])
    document["extra"] = {"reroutes": [{"id": "r1", "pos": [640, 140], "parent": None}], "link_reroutes": {"c/value": "r1"}}
    open_workflow(page, document, tmp_path)
    assert wire(page, "a", "value", "c", "value").get_attribute("data-via") == "r1"
    assert page.evaluate(CROSSINGS) == []
    d = path_of(page, "a", "value", "c", "value")
    assert " 640,140" in d  # still through the point
    page.screenshot(path=str(artifacts / "routing-reroute-pieces.png"))
    assert page.evaluate(INSIDE, ['path.fw-wire[data-to="c"]', ["b"]]) == []


def test_paste_with_input_links_keeps_their_reroute_points(page, tmp_path, workflows_dir):
    # a -> r1 -> r2 -> c; copy c, Ctrl+Shift+V: the copy's link from a passes through copies of r1 and r2
    document = doc([("a", "IntValue", {"value": 3}, (0, 100)), ("c", "ShowValue", {}, (700, 100))], [("a", "value", "c", "value")])
    document["extra"] = {"reroutes": [{"id": "r1", "pos": [300, 320], "parent": None}, {"id": "r2", "pos": [500, 320], "parent": "r1"}],
                         "link_reroutes": {"c/value": "r2"}}
    open_workflow(page, document, tmp_path)
    node(page, "c").locator(".fw-title").click()
    page.keyboard.press("Control+c")
    x, y = centre(node(page, "c").locator(".fw-title"))
    page.mouse.move(x, y + 300)
    page.keyboard.press("Control+Shift+v")
    page.wait_for_function("document.querySelectorAll('.fw-node').length === 3")
    pasted = sent(page)
    copy = next(n for n in pasted["nodes"] if n["id"] not in ("a", "c"))
    offset = [copy["ui"]["pos"][0] - 700, copy["ui"]["pos"][1] - 100]
    points = {p["id"]: p for p in pasted["extra"]["reroutes"]}
    last = pasted["extra"]["link_reroutes"][copy["id"] + "/value"]
    assert last not in ("r1", "r2") and points[last]["parent"] not in (None, "r1", "r2")
    first = points[last]["parent"]
    assert points[first]["parent"] is None
    assert points[first]["pos"] == [300 + offset[0], 320 + offset[1]] and points[last]["pos"] == [500 + offset[0], 320 + offset[1]]
    assert pasted["extra"]["link_reroutes"]["c/value"] == "r2"  # the copied wire keeps its own points
    assert wire(page, "a", "value", copy["id"], "value").get_attribute("data-via") == f"{first} {last}"
    # one undo step takes the copy and its points away
    page.keyboard.press("Control+z")
    page.wait_for_function("document.querySelectorAll('.fw-node').length === 2")
    assert sorted(p["id"] for p in sent(page)["extra"]["reroutes"]) == ["r1", "r2"]
    page.keyboard.press("Control+y")
    page.wait_for_function("document.querySelectorAll('.fw-node').length === 3")
    # saved and opened again: the pasted link still passes through its points
    page.click('[data-action="save-as"]')
    page.fill('[data-field="workflow-name"]', "pasted-points")
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="doc-name"]:text-is("pasted-points")')
    saved = json.loads((workflows_dir / "pasted-points.json").read_text())
    assert saved["extra"]["link_reroutes"][copy["id"] + "/value"] == last
    page.click('[data-action="new"]')
    page.wait_for_function("document.querySelectorAll('.fw-reroute').length === 0")
    page.locator('[data-role="stage"]').click(position={"x": 8, "y": 8})
    page.keyboard.press("Control+o")
    page.locator('[data-workflow="pasted-points"] [data-action="open-workflow"]').click()
    page.wait_for_selector(f'.fw-reroute[data-reroute="{last}"]')
    assert wire(page, "a", "value", copy["id"], "value").get_attribute("data-via") == f"{first} {last}"


def test_a_loop_takes_a_free_level_near_the_midpoint(page, tmp_path, artifacts):
    """The backward wire a -> c passes a column of nodes: the level halfway between its ends runs through q, whose
    upper half holds it and p sits right on top of q; a free level lies just under q. The loop takes that level
    (between its ends, nothing crossed) instead of going over or under everything."""
    document = doc([("c", "ShowValue", {}, (0, 600)), ("p", "IntValue", {}, (330, 240)), ("q", "IntValue", {}, (330, 330)),
                    ("r", "IntValue", {}, (330, 520)), ("a", "IntValue", {}, (700, 0))], [("a", "value", "c", "value")])
    for n in document["nodes"]:
        if n["id"] in ("p", "q", "r"):
            n["ui"]["size"] = [220, 88]
    open_workflow(page, document, tmp_path)
    sel = 'path.fw-wire[data-from="a"][data-to="c"]'
    assert page.evaluate(INSIDE, [sel, ["a", "c", "p", "q", "r"]]) == []
    points = page.evaluate("""(sel) => { const p = document.querySelector(sel), len = p.getTotalLength(), m = p.getScreenCTM();
        const out = []; for (let i = 0; i <= 200; i++) { const q = p.getPointAtLength(len * i / 200); out.push([q.x * m.a + m.e, q.y * m.d + m.f]); }
        return out; }""", sel)
    (y0, y1) = (points[0][1], points[-1][1])
    assert all(y0 - 2 <= y <= y1 + 2 for _, y in points), "the loop left the span between its ends"
    q, r = node(page, "q").bounding_box(), node(page, "r").bounding_box()
    level = [y for x, y in points if q["x"] < x < q["x"] + q["width"]]
    assert level and all(q["y"] + q["height"] < y < r["y"] for y in level), (level, q, r)
    page.screenshot(path=str(artifacts / "routing-loop-free-level.png"))


def test_a_redo_that_only_removes_a_node_drops_the_detour_round_it(page, tmp_path):
    """An undo/redo step that only takes nodes away redraws no node; the wires led round the node it removed
    are routed again all the same."""
    open_workflow(page, doc([("a", "IntValue", {}, (0, 100)), ("b", "Note", {"text": "in the way"}, (330, 70)),
                             ("c", "ShowValue", {}, (760, 100))], [("a", "value", "c", "value")]), tmp_path)
    detour = path_of(page, "a", "value", "c", "value")
    assert detour.count(" C") > 1 and page.evaluate(CROSSINGS) == []
    node(page, "b").locator(".fw-title").click()
    page.keyboard.press("Delete")
    page.wait_for_function("() => !document.querySelector('.fw-node[data-node-id=\"b\"]')")
    plain = path_of(page, "a", "value", "c", "value")
    assert plain.count(" C") == 1
    page.keyboard.press("Control+z")
    page.wait_for_selector('.fw-node[data-node-id="b"]')
    assert path_of(page, "a", "value", "c", "value") == detour
    page.keyboard.press("Control+y")  # only removes b
    page.wait_for_function("() => !document.querySelector('.fw-node[data-node-id=\"b\"]')")
    page.wait_for_timeout(100)
    assert path_of(page, "a", "value", "c", "value") == plain
