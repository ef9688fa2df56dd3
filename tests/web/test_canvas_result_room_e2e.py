"""Result nodes saved without a height (issue 17, "nodes grow without covering their neighbours"): documents
from before result nodes got a size, and ComfyUI files without one. Opened in a real browser on the real app,
such a node is shown with room for its pictures (ComfyUI's 220 px, less where a node sits just below), so a
run's picture fits into it, aspect kept, and never makes it grow over the node below. The room is shown,
not saved: opening and running leave the document clean, and a save/load shows the same boxes."""
from __future__ import annotations

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import doc, node, open_workflow
from .test_canvas_pictures_e2e import ZOOM, aspect_kept, inside, pictures, run, sized

pytestmark = pytest.mark.e2e


def old_document():
    # "old": a result node without ui.size with a node 230 px under its top; "alone": nothing below it
    return sized(doc([
        ("p", "TestPicture", {"width": 48, "height": 96, "delay": 0.0}, (20, 20)),
        ("old", "WritePicture", {"prefix": "old"}, (330, 20)),
        ("below", "IntValue", {}, (330, 250)),
        ("alone", "WritePicture", {"prefix": "alone"}, (650, 20))],
        [("p", "image", "old", "image"), ("p", "image", "alone", "image")]), {})


def undo_depth(page):
    """How many steps the autosave holds for undo (it keeps the undo history with the document)."""
    return page.evaluate("() => JSON.parse(localStorage.getItem('fluxwire:autosave:' + location.pathname)).undo.length")


def boxes(page, ids):
    return {k: node(page, k).bounding_box() for k in ids}


def test_an_unsized_result_node_fits_its_picture_above_the_node_below(page, tmp_path, artifacts):
    open_workflow(page, old_document(), tmp_path)
    page.wait_for_timeout(150)
    assert page.locator(".fw-root").get_attribute("data-dirty") == "0"
    before = boxes(page, ("old", "below", "alone"))
    old, below, alone = before["old"], before["below"], before["alone"]
    assert old["y"] + old["height"] < below["y"]  # the room stops above the node below ...
    assert below["y"] - (old["y"] + old["height"]) < 20 * ZOOM  # ... using the free space
    widgets_end = node(page, "alone").locator(".fw-row").last.bounding_box()
    assert abs(alone["y"] + alone["height"] - widgets_end["y"] - widgets_end["height"] - 220 * ZOOM) <= 12
    opened, opened_undo = sent(page), undo_depth(page)
    run(page, ["old", "alone"])
    after = boxes(page, ("old", "below", "alone"))
    for k in ("old", "alone"):
        assert abs(after[k]["height"] - before[k]["height"]) <= 1, k  # the picture does not make it grow
        (pic,) = pictures(page, k)
        assert inside(pic, after[k]) and aspect_kept(pic), (k, pic, after[k])
        assert pic["h"] > 60 * ZOOM, k  # visible, not a sliver
    assert after["old"]["y"] + after["old"]["height"] < after["below"]["y"]
    assert pictures(page, "alone")[0]["h"] > 150 * ZOOM  # the full room when nothing is below
    page.screenshot(path=str(artifacts / "daily-pictures-unsized.png"))
    # shown, not written: the document is as it was opened (not dirty, nothing to undo, no size saved)
    saved = sent(page)
    assert page.locator(".fw-root").get_attribute("data-dirty") == "0"
    assert saved == opened and all("size" not in n["ui"] for n in saved["nodes"])
    assert undo_depth(page) == opened_undo  # nothing recorded for undo
    # saved and opened again: the same boxes
    node(page, "old").evaluate("e => { e.dataset.probe = '1'; }")  # gone once the node is drawn anew
    open_workflow(page, saved, tmp_path, name="again.json")
    page.wait_for_function("() => !document.querySelector('.fw-node[data-probe]')")
    page.wait_for_timeout(150)
    again = boxes(page, ("old", "below", "alone"))
    for k in ("old", "alone"):
        assert abs(again[k]["height"] - before[k]["height"]) <= 1 and abs(again[k]["width"] - before[k]["width"]) <= 1


def test_a_live_preview_and_text_stop_above_the_node_below(page, tmp_path, artifacts):
    """Nodes without a height that show a live preview (any node reporting one) or text (ShowText-like output
    nodes) grow only into the free space above the node below them."""
    open_workflow(page, sized(doc([
        ("slow", "SlowSteps", {"steps": 6, "delay": 0.4}, (20, 20)),
        ("under", "IntValue", {}, (20, 220)),
        ("words", "StringValue", {"value": "a long text " * 60}, (330, 20)),
        ("show", "ShowValue", {}, (640, 20)),
        ("under2", "IntValue", {}, (640, 170)),
        ("count", "ShowValue", {}, (950, 20))],
        [("words", "value", "show", "value"), ("slow", "count", "count", "value")]), {}), tmp_path)
    page.wait_for_timeout(150)
    page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="slow"] img.fw-preview[src^="data:image/"]:not([hidden])')
    page.wait_for_timeout(300)
    slow, under = node(page, "slow").bounding_box(), node(page, "under").bounding_box()
    shown = node(page, "slow").locator("img.fw-preview").bounding_box()
    assert slow["y"] + slow["height"] < under["y"], (slow, under)
    assert shown["height"] > 40 * ZOOM  # still there to judge
    page.screenshot(path=str(artifacts / "daily-preview-capped.png"))
    page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
    text = node(page, "show").locator(".fw-text")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"show\"] .fw-text').textContent.length > 500")
    show, under2 = node(page, "show").bounding_box(), node(page, "under2").bounding_box()
    assert show["y"] + show["height"] < under2["y"], (show, under2)
    assert text.evaluate("e => e.scrollHeight > e.clientHeight + 20")  # the rest scrolls inside the node
    assert text.bounding_box()["height"] > 30 * ZOOM


def test_a_batch_fills_the_room_of_an_unsized_node_and_collapse_gives_it_back(page, tmp_path):
    open_workflow(page, sized(doc([
        ("p", "TestPicture", {"width": 64, "height": 64, "delay": 0.0}, (20, 20)),
        ("batch", "WritePictures", {"copies": 4}, (330, 20)),
        ("below", "IntValue", {}, (330, 300))],
        [("p", "image", "batch", "image")]), {}), tmp_path)
    page.wait_for_timeout(150)
    height = node(page, "batch").bounding_box()["height"]
    run(page, ["batch"])
    box, below = node(page, "batch").bounding_box(), node(page, "below").bounding_box()
    pics = pictures(page, "batch")
    assert len(pics) == 4 and abs(box["height"] - height) <= 1 and box["y"] + box["height"] < below["y"]
    assert all(inside(p, box) and aspect_kept(p) for p in pics)
    assert len({round(p["x"]) for p in pics}) == 2 and len({round(p["y"]) for p in pics}) == 2  # a 2 x 2 grid
    # collapsed: only its title; opened again: the same room, pictures still fitted
    node(page, "batch").locator(".fw-title").click()
    page.keyboard.press("Alt+c")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"batch\"]').classList.contains('fw-collapsed')")
    assert node(page, "batch").bounding_box()["height"] < 40
    page.keyboard.press("Alt+c")
    page.wait_for_function("() => !document.querySelector('.fw-node[data-node-id=\"batch\"]').classList.contains('fw-collapsed')")
    page.wait_for_timeout(200)
    assert abs(node(page, "batch").bounding_box()["height"] - height) <= 1
    assert all(inside(p, node(page, "batch").bounding_box()) for p in pictures(page, "batch"))


def test_the_lightbox_shows_a_tall_picture_whole_and_scrolls_when_zoomed(page, tmp_path, artifacts):
    """A 1:3 picture (as 512x1536) is shown whole at 100 % (it was as wide as 55 % of the window's height, so
    three times that tall, cut off at the bottom); zoomed in, the frame scrolls to its top and bottom."""
    open_workflow(page, sized(doc([
        ("p", "TestPicture", {"width": 40, "height": 120, "delay": 0.0}, (20, 20)),
        ("w", "WritePicture", {}, (330, 20))], [("p", "image", "w", "image")]), {}), tmp_path)
    run(page, ["w"])
    node(page, "w").locator(".fw-image img").click()
    frame, pic = page.locator(".fw-lightbox-frame"), page.locator(".fw-lightbox-img")
    page.wait_for_function("() => { const i = document.querySelector('.fw-lightbox-img'); return i && i.complete && i.naturalWidth > 0; }")
    page.wait_for_timeout(100)
    shown, room = pic.bounding_box(), frame.bounding_box()
    assert inside({"x": shown["x"], "y": shown["y"], "w": shown["width"], "h": shown["height"]}, room)
    assert abs(shown["height"] / shown["width"] - 3) < 0.05
    assert shown["height"] > 0.8 * room["height"]  # as large as the frame allows
    page.screenshot(path=str(artifacts / "daily-lightbox-tall.png"))
    for _ in range(3):
        page.click('[data-action="lightbox-zoom-in"]')
    page.wait_for_timeout(100)
    assert frame.evaluate("f => f.scrollHeight > f.clientHeight + 100")
    top = frame.evaluate("f => { f.scrollTop = 0; f.scrollLeft = 0; const i = f.querySelector('img').getBoundingClientRect(),"
                         " b = f.getBoundingClientRect(); return [i.top - b.top, i.left - b.left]; }")
    assert top[0] >= -1 and top[1] >= -1, top  # the top-left corner can be scrolled to
    bottom = frame.evaluate("f => { f.scrollTop = f.scrollHeight; const i = f.querySelector('img').getBoundingClientRect(),"
                            " b = f.getBoundingClientRect(); return i.bottom - b.bottom; }")
    assert bottom <= 1, bottom  # and the bottom too


def test_fitting_the_view_on_open_frames_the_picture_room(page, tmp_path):
    """The room is part of the node's box before the view is fitted (and before wires are routed round it)."""
    document = doc([("p", "TestPicture", {}, (0, 0)), ("a", "IntValue", {}, (0, 400)),
                    ("w", "WritePicture", {}, (0, 800))], [("p", "image", "w", "image")])
    open_workflow(page, document, tmp_path)  # no saved view: the canvas fits the whole graph
    page.wait_for_timeout(200)
    stage, box = page.locator('[data-role="stage"]').bounding_box(), node(page, "w").bounding_box()
    widgets_end = node(page, "w").locator(".fw-row").last.bounding_box()
    zoom = box["width"] / node(page, "w").evaluate("e => e.offsetWidth")
    assert box["y"] + box["height"] - widgets_end["y"] - widgets_end["height"] > 200 * zoom  # the room is there
    assert box["y"] + box["height"] <= stage["y"] + stage["height"] + 1  # inside the fitted view
