"""Reroute points as part of the selection (issue 17, as in ComfyUI's frontend), in a real browser on the real
app: selected by click, Shift+click and box select; moved with the selected nodes and with their group (points
between two moving nodes follow without being selected); deleted with the selection in one undo step, the wire
staying; copied and pasted with the nodes they sit between. Checked in the page and in the document sent."""
from __future__ import annotations

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import centre, doc, node, open_workflow, wire

pytestmark = pytest.mark.e2e


def two_wires(r2_at=(450, 660)):
    """a -> b through r1 (below the pair), c -> d through r2; a fixed view, all of it on screen."""
    d = doc([("a", "IntValue", {"value": 1}, (40, 40)), ("b", "ShowValue", {}, (700, 40)),
             ("c", "IntValue", {"value": 2}, (40, 460)), ("d", "ShowValue", {}, (700, 460))],
            [("a", "value", "b", "value"), ("c", "value", "d", "value")])
    d["extra"] = {"view": {"x": 20, "y": 10, "zoom": 0.6},
                  "reroutes": [{"id": "r1", "pos": [450, 300], "parent": None},
                               {"id": "r2", "pos": list(r2_at), "parent": None}],
                  "link_reroutes": {"b/value": "r1", "d/value": "r2"}}
    return d


def dot(page, rid):
    return page.locator(f'.fw-reroute[data-reroute="{rid}"]')


def positions(document):
    where = {n["id"]: n["ui"]["pos"] for n in document["nodes"]}
    where.update({p["id"]: p["pos"] for p in document["extra"].get("reroutes", [])})
    return where


def drag_by(page, locator, dx, dy):
    x, y = centre(locator)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def selected_points(page):
    return sorted(page.locator('.fw-reroute[data-selected="1"]').evaluate_all("els => els.map(e => e.dataset.reroute)"))


def selected_nodes(page):
    return sorted(page.locator('.fw-node[data-selected="1"]').evaluate_all("els => els.map(e => e.dataset.nodeId)"))


def test_points_are_selected_moved_with_the_nodes_and_deleted_with_them(page, tmp_path, artifacts):
    open_workflow(page, two_wires(), tmp_path)
    start = positions(sent(page))
    # a click selects the point alone; a click on a node starts a new selection without it
    dot(page, "r2").click()
    assert selected_points(page) == ["r2"] and selected_nodes(page) == []
    node(page, "a").locator(".fw-title").click()
    assert selected_points(page) == [] and selected_nodes(page) == ["a"]
    # Shift+click adds a node and a point; a second Shift+click on a point takes it out again
    node(page, "b").locator(".fw-title").click(modifiers=["Shift"])
    dot(page, "r2").click(modifiers=["Shift"])
    dot(page, "r1").click(modifiers=["Shift"])
    assert selected_points(page) == ["r1", "r2"] and selected_nodes(page) == ["a", "b"]
    dot(page, "r1").click(modifiers=["Shift"])
    assert selected_points(page) == ["r2"] and selected_nodes(page) == ["a", "b"]
    # drag a: a, b, the selected r2 and r1 (on the wire a -> b, both ends moving) move the same way; c, d stay
    d_cd = wire(page, "c", "value", "d", "value").get_attribute("d")
    drag_by(page, node(page, "a").locator(".fw-title"), 90, 60)
    moved = positions(sent(page))
    zoom = 0.6
    for k in ("a", "b", "r1", "r2"):
        assert abs(moved[k][0] - start[k][0] - 90 / zoom) <= 2 and abs(moved[k][1] - start[k][1] - 60 / zoom) <= 2, k
    for k in ("c", "d"):
        assert moved[k] == start[k], k
    assert wire(page, "c", "value", "d", "value").get_attribute("d") != d_cd  # its point moved: the wire follows
    bx, by = centre(dot(page, "r2"))
    assert (bx, by) != centre(dot(page, "r1"))
    page.screenshot(path=str(artifacts / "daily-selection-moved.png"))
    # a selected point dragged by itself carries the whole selection along
    drag_by(page, dot(page, "r2"), -30, 0)
    again = positions(sent(page))
    for k in ("a", "b", "r1", "r2"):
        assert abs(again[k][0] - moved[k][0] + 30 / zoom) <= 2, k
    # one undo step per drag
    page.keyboard.press("Control+z")
    assert positions(sent(page)) == moved
    page.keyboard.press("Control+z")
    assert positions(sent(page)) == start
    assert abs(centre(dot(page, "r1"))[1] - centre(dot(page, "r2"))[1]) > 100
    # Delete removes the selected node and point together: c goes with its wire (so r2 with it), r1 goes and
    # the wire a -> b stays, straight
    dot(page, "r1").click()
    node(page, "c").locator(".fw-title").click(modifiers=["Shift"])
    page.keyboard.press("Delete")
    document = sent(page)
    assert sorted(n["id"] for n in document["nodes"]) == ["a", "b", "d"]
    assert [(x["from"], x["to"]) for x in document["links"]] == [("a", "b")]
    assert "reroutes" not in document["extra"] and page.locator(".fw-reroute").count() == 0
    assert wire(page, "a", "value", "b", "value").get_attribute("data-via") is None
    # ... in one undo step
    page.keyboard.press("Control+z")
    document = sent(page)
    assert sorted(n["id"] for n in document["nodes"]) == ["a", "b", "c", "d"]
    assert positions(document) == start
    assert wire(page, "a", "value", "b", "value").get_attribute("data-via") == "r1"
    assert wire(page, "c", "value", "d", "value").get_attribute("data-via") == "r2"


def test_box_select_copy_paste_and_group_drag_carry_the_points(page, tmp_path, artifacts):
    open_workflow(page, two_wires(r2_at=(450, 500)), tmp_path)
    start = positions(sent(page))
    # Shift-drag a box around a, b and r1 (not c, d, r2)
    stage = page.locator('[data-role="stage"]').bounding_box()
    a, b, r1 = node(page, "a").bounding_box(), node(page, "b").bounding_box(), centre(dot(page, "r1"))
    x0, y0 = a["x"] - 10, a["y"] - 10
    x1, y1 = b["x"] + b["width"] + 10, r1[1] + 15
    assert y1 < node(page, "c").bounding_box()["y"] and stage["x"] < x0
    page.keyboard.down("Shift")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert selected_nodes(page) == ["a", "b"] and selected_points(page) == ["r1"]
    # copy, paste at the pointer: new nodes, the link between them, and a new point placed as they are
    page.keyboard.press("Control+c")
    page.mouse.move(stage["x"] + 60, stage["y"] + stage["height"] - 60)
    page.keyboard.press("Control+v")
    document = sent(page)
    new = sorted(set(n["id"] for n in document["nodes"]) - {"a", "b", "c", "d"})
    assert len(new) == 2
    where = positions(document)
    na, nb = sorted(new, key=lambda i: where[i][0])
    (copy_link,) = [x for x in document["links"] if x["from"] == na]
    assert copy_link["to"] == nb
    rid = document["extra"]["link_reroutes"][nb + "/value"]
    assert rid not in ("r1", "r2")
    offset = [where[na][0] - start["a"][0], where[na][1] - start["a"][1]]
    assert offset != [0, 0]
    assert where[rid] == [start["r1"][0] + offset[0], start["r1"][1] + offset[1]]
    assert wire(page, na, "value", nb, "value").get_attribute("data-via") == rid
    assert selected_points(page) == [rid] and selected_nodes(page) == sorted(new)
    assert document["extra"]["link_reroutes"]["b/value"] == "r1"  # the original keeps its point
    page.screenshot(path=str(artifacts / "daily-selection-pasted.png"))
    # a group around c and d: dragging its title carries r2, which lies inside it
    node(page, "c").locator(".fw-title").click()
    node(page, "d").locator(".fw-title").click(modifiers=["Shift"])
    page.keyboard.press("Control+g")
    group = page.locator(".fw-group").last
    before = positions(sent(page))
    drag_by(page, group.locator(".fw-group-title"), 40, 30)
    after = positions(sent(page))
    for k in ("c", "d", "r2"):
        assert abs(after[k][0] - before[k][0] - 40 / 0.6) <= 2 and abs(after[k][1] - before[k][1] - 30 / 0.6) <= 2, k
    assert after["r1"] == before["r1"] and after[rid] == before[rid]
    page.keyboard.press("Control+z")
    assert positions(sent(page)) == before
