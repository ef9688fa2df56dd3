"""The picture room of a result node without a height follows the node below it (issue 17, "nodes grow
without covering their neighbours"), in a real browser on the real app: dragging the node below closer
shrinks the room at once (no overlap once the drag ends, the picture still fits with its aspect), undo and
redo give the room back and take it again, and with less room than a picture needs the node shows one line
"1 picture" that opens the lightbox instead of covering its neighbour. A ComfyUI UI export writes the boxes
nodes without a size show."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import doc, node, open_workflow
from .test_canvas_pictures_e2e import ZOOM, aspect_kept, inside, pictures, run, sized
from .test_canvas_routing_e2e import drag_title

pytestmark = pytest.mark.e2e

BELOW_Y = 500  # where the node below starts: far enough for the full 220 px room


def widgets_end(page, nid):
    """Canvas px from the node's top to the end of its widgets."""
    return page.evaluate("""id => { const e = document.querySelector('.fw-node[data-node-id="' + id + '"]');
        const rows = e.querySelectorAll(':scope > .fw-row'), last = rows[rows.length - 1];
        return (last.getBoundingClientRect().bottom - e.getBoundingClientRect().top) / %s; }""" % ZOOM, nid)


def move_below_to(page, y):
    """Drag the node below (by its title) so that its top lands at canvas y `y`."""
    top = node(page, "below").bounding_box()["y"]
    start = node(page, "old").bounding_box()["y"]
    drag_title(page, "below", 0, (y - 20) * ZOOM - (top - start))
    page.wait_for_timeout(150)


def no_overlap(page):
    old, below = node(page, "old").bounding_box(), node(page, "below").bounding_box()
    assert old["y"] + old["height"] < below["y"], (old, below)
    return old


def test_the_room_follows_the_node_below_through_drag_undo_and_redo(page, tmp_path, artifacts):
    open_workflow(page, sized(doc([
        ("p", "TestPicture", {"width": 48, "height": 96, "delay": 0.0}, (20, 20)),
        ("old", "WritePicture", {"prefix": "old"}, (330, 20)),
        ("below", "IntValue", {}, (330, BELOW_Y))],
        [("p", "image", "old", "image")]), {}), tmp_path)
    run(page, ["old"])
    full = no_overlap(page)
    widgets = widgets_end(page, "old")
    assert full["height"] / ZOOM > widgets + 200  # the whole room: nothing close below
    # the node below dragged up into the room: it shrinks to the free space once the drag ends
    move_below_to(page, 20 + widgets + 12 + 110)
    old = no_overlap(page)
    assert old["height"] < full["height"] - 80 * ZOOM
    (pic,) = pictures(page, "old")
    assert inside(pic, old) and aspect_kept(pic) and pic["h"] > 40 * ZOOM, (pic, old)
    page.screenshot(path=str(artifacts / "daily-room-follows-drag.png"))
    # undo puts the node below back: the whole room again; redo: the smaller room again
    page.keyboard.press("Control+z")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"below\"]').style.transform.endsWith(' %dpx)')" % BELOW_Y)
    page.wait_for_timeout(100)
    assert abs(no_overlap(page)["height"] - full["height"]) <= 1
    page.keyboard.press("Control+y")
    page.wait_for_function("() => !document.querySelector('.fw-node[data-node-id=\"below\"]').style.transform.endsWith(' %dpx)')" % BELOW_Y)
    page.wait_for_timeout(100)
    again = no_overlap(page)
    assert abs(again["height"] - old["height"]) <= 1
    (pic,) = pictures(page, "old")
    assert inside(pic, again) and aspect_kept(pic)
    # room for less than a picture: one line that opens the lightbox, still not over the node below
    move_below_to(page, 20 + widgets + 12 + 30)
    no_overlap(page)
    assert node(page, "old").get_attribute("data-room-short") == "1"
    line = node(page, "old").locator('[data-role="picture-count"]')
    assert line.is_visible() and line.inner_text().strip().endswith("1 picture")
    assert not node(page, "old").locator(".fw-image img").is_visible()
    page.screenshot(path=str(artifacts / "daily-room-short.png"))
    line.click()
    page.wait_for_selector('[data-role="lightbox"]:not([hidden]) .fw-lightbox-img')
    page.keyboard.press("Escape")
    # the node below deleted: the whole room; undone: the short room; redone (an undo step that only removes a
    # node redraws no node, the room follows all the same)
    node(page, "below").locator(".fw-title").click()
    page.keyboard.press("Delete")
    page.wait_for_function("() => !document.querySelector('.fw-node[data-node-id=\"below\"]')")
    assert abs(node(page, "old").bounding_box()["height"] - full["height"]) <= 1
    page.keyboard.press("Control+z")
    page.wait_for_selector('.fw-node[data-node-id="below"]')
    page.wait_for_timeout(100)
    assert node(page, "old").get_attribute("data-room-short") == "1"
    no_overlap(page)
    page.keyboard.press("Control+y")
    page.wait_for_function("() => !document.querySelector('.fw-node[data-node-id=\"below\"]')")
    page.wait_for_timeout(100)
    assert abs(node(page, "old").bounding_box()["height"] - full["height"]) <= 1
    page.keyboard.press("Control+z")
    page.wait_for_selector('.fw-node[data-node-id="below"]')
    page.wait_for_timeout(100)
    # moved away again: the picture comes back, the document never got a size for it
    move_below_to(page, BELOW_Y)
    assert node(page, "old").get_attribute("data-room-short") is None
    assert abs(no_overlap(page)["height"] - full["height"]) <= 1
    assert node(page, "old").locator(".fw-image img").is_visible()
    saved = sent(page)
    assert all("size" not in n["ui"] for n in saved["nodes"])


def test_the_comfyui_ui_export_writes_the_sizes_shown(page, tmp_path):
    """Nodes without a height are exported with the box they show (a result node with its picture room, less
    where a node sits below), not a default size; the document itself keeps no size, and the exported file
    opened again shows the same boxes."""
    document = sized(doc([
        ("1", "PreviewImage", {}, (330, 20)),
        ("2", "IntValue", {}, (330, 230)),
        ("3", "IntValue", {}, (20, 20)),
        ("4", "IntValue", {}, (20, 300)),
        ("5", "IntValue", {}, (20, 500))]), {"4": (260, 150)})
    document["nodes"][4]["ui"]["collapsed"] = True
    open_workflow(page, document, tmp_path)
    page.wait_for_timeout(150)
    shown = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('.fw-node')].map("
                          "e => [e.dataset.nodeId, [e.offsetWidth, e.offsetHeight]]))")
    assert shown["1"][1] < widgets_end(page, "1") + 200  # the room stops above node 2
    opened = sent(page)
    with page.expect_download() as download:
        page.click('[data-action="export-comfyui-ui"]')
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    sizes = {str(n["id"]): n["size"] for n in exported["nodes"]}
    assert sizes["1"] == shown["1"] and sizes["2"] == shown["2"] and sizes["3"] == shown["3"]
    assert sizes["4"] == [260, 150]  # a saved size as it is
    assert sizes["5"] == [320, 120]  # collapsed: its open size is not shown, the exporter's default
    # shown, not written: the document is as it was opened
    assert page.locator(".fw-root").get_attribute("data-dirty") == "0"
    assert sent(page) == opened
    # the exported file opened again: the same boxes
    path = tmp_path / "back.comfyui.json"
    path.write_text(json.dumps(exported))
    node(page, "1").evaluate("e => { e.dataset.probe = '1'; }")
    with page.expect_file_chooser() as fc:
        page.click('[data-action="open"]')
    fc.value.set_files(str(path))
    page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 5 && !document.querySelector('.fw-node[data-probe]')")
    page.wait_for_timeout(150)
    again = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('.fw-node')].map("
                          "e => [e.dataset.nodeId, [e.offsetWidth, e.offsetHeight]]))")
    for k in ("1", "2", "3", "4"):
        assert again[k] == shown[k], (k, again[k], shown[k])
