"""Result pictures sized to the node (issue 17, "See results"), in a real browser on the real app: a node with a
size fits its pictures and live preview into the room under its widgets, so resizing it taller or wider shows
them larger with their aspect kept, never past the node's edges or over the node below; a batch is laid out
in the grid that shows it largest; a new result node gets room for a picture (ComfyUI keeps 220 px)."""
from __future__ import annotations

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import centre, doc, node, open_workflow

pytestmark = pytest.mark.e2e
ZOOM = 0.8


def sized(document, sizes):
    for n in document["nodes"]:
        if n["id"] in sizes:
            n["ui"]["size"] = list(sizes[n["id"]])
    document["extra"] = {"view": {"x": 10, "y": 10, "zoom": ZOOM}}
    return document


def run(page, node_ids):
    page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
    page.click('[data-action="run"]')
    page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
    assert page.locator(".fw-root").get_attribute("data-run-status") == "success"
    for nid in node_ids:
        page.wait_for_function("id => { const i = [...document.querySelectorAll('.fw-node[data-node-id=\"' + id + '\"] .fw-image img')];"
                               " return i.length && i.every(x => x.complete && x.naturalWidth > 0); }", arg=nid)
    page.wait_for_timeout(100)


def pictures(page, nid):
    """Drawn box and natural size of each picture of a node."""
    return page.locator(f'.fw-node[data-node-id="{nid}"] .fw-image img').evaluate_all(
        "els => els.map(e => { const b = e.getBoundingClientRect();"
        " return {x: b.x, y: b.y, w: b.width, h: b.height, nw: e.naturalWidth, nh: e.naturalHeight}; })")


def inside(pic, box):
    return (pic["x"] >= box["x"] - 1 and pic["y"] >= box["y"] - 1 and pic["x"] + pic["w"] <= box["x"] + box["width"] + 1
            and pic["y"] + pic["h"] <= box["y"] + box["height"] + 1)


def aspect_kept(pic):
    return abs(pic["w"] / pic["h"] - pic["nw"] / pic["nh"]) < 0.03 * pic["nw"] / pic["nh"] + 0.02


def resize(page, nid, dx, dy):
    gx, gy = centre(node(page, nid).locator('[data-role="node-resize"]'))
    page.mouse.move(gx, gy)
    page.mouse.down()
    page.mouse.move(gx + dx, gy + dy, steps=8)
    page.mouse.up()


def test_pictures_fit_the_node_and_grow_with_it(page, tmp_path, artifacts):
    open_workflow(page, sized(doc([
        ("p1", "TestPicture", {"width": 48, "height": 96, "delay": 0.0}, (20, 20)),
        ("p2", "TestPicture", {"width": 96, "height": 48, "seed": 9, "delay": 0.0}, (20, 330)),
        ("tall", "WritePicture", {"prefix": "tall"}, (330, 20)),
        ("wide", "WritePicture", {"prefix": "wide"}, (650, 20)),
        ("below", "IntValue", {}, (330, 340))],
        [("p1", "image", "tall", "image"), ("p2", "image", "wide", "image")]),
        {"tall": (260, 300), "wide": (260, 340)}), tmp_path)
    heights = {k: node(page, k).bounding_box()["height"] for k in ("tall", "wide")}
    run(page, ["tall", "wide"])
    for k in ("tall", "wide"):
        box = node(page, k).bounding_box()
        assert abs(box["height"] - heights[k]) <= 1, k  # the picture does not make the node grow
        (pic,) = pictures(page, k)
        assert inside(pic, box) and aspect_kept(pic), (k, pic, box)
    tall0, wide0 = pictures(page, "tall")[0], pictures(page, "wide")[0]
    # portrait in a wide node: as tall as the room allows; landscape: as wide as the node allows
    assert tall0["h"] > 0.5 * heights["tall"] and wide0["w"] > 0.85 * node(page, "wide").bounding_box()["width"]
    tall_box = node(page, "tall").bounding_box()
    assert tall_box["y"] + tall_box["height"] < node(page, "below").bounding_box()["y"]  # nothing covered
    page.screenshot(path=str(artifacts / "daily-pictures-fit.png"))
    # taller: the portrait grows by the height added; wider: the landscape grows by the width added
    resize(page, "tall", 0, 120)
    resize(page, "wide", 120, 0)
    tall1, wide1 = pictures(page, "tall")[0], pictures(page, "wide")[0]
    assert abs(tall1["h"] - tall0["h"] - 120) <= 6 and aspect_kept(tall1)
    assert abs(wide1["w"] - wide0["w"] - 120) <= 6 and aspect_kept(wide1)
    for k, pic in (("tall", tall1), ("wide", wide1)):
        box = node(page, k).bounding_box()
        assert inside(pic, box)
        size = next(n for n in sent(page)["nodes"] if n["id"] == k)["ui"]["size"]
        assert abs(box["height"] - size[1] * ZOOM) <= 2 and abs(box["width"] - size[0] * ZOOM) <= 2
    # wider only: a portrait limited by the height does not grow past it (nor out of the node)
    resize(page, "tall", 150, 0)
    tall2 = pictures(page, "tall")[0]
    assert abs(tall2["h"] - tall1["h"]) <= 2 and inside(tall2, node(page, "tall").bounding_box())
    page.screenshot(path=str(artifacts / "daily-pictures-resized.png"))
    # undo the last resize: the picture goes back with the node
    page.locator('[data-role="stage"]').click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    page.wait_for_timeout(150)
    assert abs(pictures(page, "tall")[0]["h"] - tall1["h"]) <= 2


def test_a_batch_and_the_live_preview_fill_the_node(page, tmp_path, artifacts):
    open_workflow(page, sized(doc([
        ("p", "TestPicture", {"width": 64, "height": 64, "delay": 0.0}, (20, 20)),
        ("batch", "WritePictures", {"copies": 4}, (330, 20)),
        ("slow", "SlowSteps", {"steps": 6, "delay": 0.5}, (780, 20)), ("show", "ShowValue", {}, (1080, 20))],
        [("p", "image", "batch", "image"), ("slow", "count", "show", "value")]), {"batch": (420, 380), "slow": (260, 320)}), tmp_path)
    page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
    page.click('[data-action="run"]')
    preview = node(page, "slow").locator("img.fw-preview")
    page.wait_for_selector('.fw-node[data-node-id="slow"] img.fw-preview[src^="data:image/"]:not([hidden])')
    slow = node(page, "slow").bounding_box()
    shown = preview.bounding_box()
    assert shown["y"] + shown["height"] <= slow["y"] + slow["height"] + 1
    # the preview's element takes the room under the widgets (object-fit keeps the aspect inside it)
    assert shown["height"] > 0.45 * slow["height"] and shown["width"] > 0.85 * slow["width"]
    assert preview.evaluate("e => getComputedStyle(e).objectFit") == "contain"
    page.screenshot(path=str(artifacts / "daily-pictures-preview.png"))
    page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
    run(page, ["batch"])
    pics = pictures(page, "batch")
    box = node(page, "batch").bounding_box()
    assert len(pics) == 4
    assert all(inside(p, box) and aspect_kept(p) for p in pics)
    # a 2 x 2 grid (the layout showing four squares largest in this room), no picture over another
    assert len({round(p["x"]) for p in pics}) == 2 and len({round(p["y"]) for p in pics}) == 2
    for i, a in enumerate(pics):
        for b in pics[i + 1:]:
            assert a["x"] + a["w"] <= b["x"] + 1 or b["x"] + b["w"] <= a["x"] + 1 or \
                a["y"] + a["h"] <= b["y"] + 1 or b["y"] + b["h"] <= a["y"] + 1
    assert min(p["w"] for p in pics) > 0.25 * box["width"]  # one row or one column would show them smaller
    page.screenshot(path=str(artifacts / "daily-pictures-batch.png"))


def test_a_new_result_node_gets_room_for_its_picture(page, tmp_path):
    open_workflow(page, sized(doc([("p", "TestPicture", {"width": 64, "height": 64, "delay": 0.0}, (20, 20))]), {}),
                  tmp_path)
    stage = page.locator('[data-role="stage"]').bounding_box()
    page.mouse.dblclick(stage["x"] + 420, stage["y"] + 60)
    page.keyboard.type("write picture")
    page.keyboard.press("Enter")
    added = next(n for n in sent(page)["nodes"] if n["type"] == "WritePicture")
    width, height = added["ui"]["size"]
    box = node(page, added["id"]).bounding_box()
    assert width == 300 and abs(box["width"] - width * ZOOM) <= 2
    assert abs(box["height"] - height * ZOOM) <= 2
    # its widgets' height plus the 220 px ComfyUI keeps for a picture
    widgets_end = node(page, added["id"]).locator(".fw-row").last.bounding_box()
    assert abs((box["y"] + box["height"]) - (widgets_end["y"] + widgets_end["height"]) - 220 * ZOOM) <= 20
    # a plain node keeps the plain default
    page.mouse.dblclick(stage["x"] + 420, stage["y"] + 480)
    page.keyboard.type("show value")
    page.keyboard.press("Enter")
    plain = next(n for n in sent(page)["nodes"] if n["type"] == "ShowValue")
    assert "size" not in plain["ui"]


def test_the_run_history_names_each_runs_seed_and_time(page, tmp_path):
    open_workflow(page, sized(doc([("p", "TestPicture", {"width": 32, "height": 32, "seed": 5, "delay": 0.2}, (20, 20)),
                                   ("w", "WritePicture", {}, (330, 20))], [("p", "image", "w", "image")]), {}), tmp_path)
    run(page, ["w"])
    seed = node(page, "p").locator('input[data-widget="seed"]')
    seed.fill("6")
    seed.press("Tab")
    run(page, ["w"])
    page.click('[data-action="history"]')
    rows = page.locator('[data-role="history"] [data-run]')
    assert rows.nth(0).locator(".fw-history-seed").get_attribute("data-seeds") == "6"
    assert rows.nth(1).locator(".fw-history-seed").get_attribute("data-seeds") == "5"
    # the time the nodes computed: TestPicture sleeps 3 x 0.2 s
    when = rows.nth(0).locator(".fw-history-when").text_content()
    assert float(when.rsplit("\u00b7", 1)[1].strip().removesuffix(" s")) >= 0.6
