"""The canvas in a real browser: Playwright driving Chromium against the real app (one server per module).

Every gesture uses real mouse and keyboard events; results are checked on the page and, where it
matters, against what the server actually produced (downloaded PNGs, saved JSON).
"""
from __future__ import annotations

import ast
import io
import json
import re

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from flux_core.graph.workflow import WorkflowError

pytestmark = pytest.mark.e2e

# ------------------------------------------------------------------ helpers

def doc(nodes, links=(), title="test"):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": title},
            "nodes": [{"id": i, "type": t, "widgets": w, "ui": {"pos": list(pos)}} for i, t, w, pos in nodes],
            "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links]}


def open_workflow(page, document, tmp_path, name="wf.json"):
    """Load a document through the canvas's own Open button (a real file chooser)."""
    path = tmp_path / name
    path.write_text(json.dumps(document))
    with page.expect_file_chooser() as fc:
        page.click('[data-action="open"]')
    fc.value.set_files(str(path))
    ids = sorted(n["id"] for n in document["nodes"])
    page.wait_for_function("ids => JSON.stringify([...document.querySelectorAll('.fw-node')]"
                           ".map(n => n.dataset.nodeId).sort()) === JSON.stringify(ids)", arg=ids)


def node(page, node_id):
    return page.locator(f'.fw-node[data-node-id="{node_id}"]')


def sock(page, node_id, direction, name):
    return node(page, node_id).locator(f'[data-socket-dir="{direction}"][data-socket-name="{name}"]')


def centre(locator):
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page, source, target, steps=12):
    x0, y0 = centre(source)
    x1, y1 = centre(target)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2 + 15, steps=steps)
    page.mouse.move(x1, y1, steps=steps)
    page.mouse.up()


def wire(page, src, out, dst, inp):
    return page.locator(f'path.fw-wire[data-from="{src}"][data-output="{out}"][data-to="{dst}"][data-input="{inp}"]')


def canvas_ids(page):
    return sorted(page.locator(".fw-node").evaluate_all("els => els.map(e => e.dataset.nodeId)"))


def clear_canvas(page):
    page.locator('[data-role="stage"]').click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.wait_for_function("document.querySelectorAll('.fw-node').length === 0")


# ------------------------------------------------------------------ tests

def test_page_loads_with_default_workflow_hooks_and_catalogue(page, module_executor, artifacts):
    from web.canvas import default_document

    default, _notice = default_document()
    assert canvas_ids(page) == sorted(n["id"] for n in default["nodes"])
    try:  # what the app says about the opening workflow must be what validation says
        module_executor.validate(default)
        at_fault = {}
    except WorkflowError as e:
        at_fault = {p.node: p.message for p in e.problems if p.node}
    if at_fault:
        page.wait_for_selector('.fw-node[data-status="error"]')
    for el in page.locator(".fw-node").all():
        nid = el.get_attribute("data-node-id")
        assert el.get_attribute("data-node-type")
        assert el.get_attribute("data-status") == ("error" if nid in at_fault else "idle")
        if nid in at_fault:
            assert at_fault[nid] in el.locator(".fw-error").text_content()
    for s in page.locator(".fw-socket").all():
        assert s.get_attribute("data-socket-dir") in ("in", "out")
        assert s.get_attribute("data-socket-name") and s.get_attribute("data-socket-type")
    assert page.locator('[data-action="run"]').is_visible() and page.locator('[data-action="stop"]').is_visible()
    banner = page.locator('[data-role="banner"]')  # a node pack that failed to load is named at start
    assert banner.get_attribute("data-kind") == "warning"
    assert "broken_pack" in banner.text_content() and "on purpose" in banner.text_content()
    page.click('[data-action="palette"]')
    listed = page.locator(".fw-palette-item:not([data-library])").evaluate_all("els => els.map(e => e.dataset.nodeType)")
    assert sorted(listed) == sorted(cls.type_name for cls in module_executor.registry)
    categories = page.locator(".fw-palette-category").all_text_contents()
    library = {"subgraphs/flux", "subgraphs/sampling"}  # the shipped library subgraphs (tests/web/test_subgraphs_e2e.py)
    assert sorted(categories) == sorted({cls.category for cls in module_executor.registry} | library)
    page.screenshot(path=str(artifacts / "canvas-loaded.png"))


def test_add_two_nodes_draw_a_wire_edit_a_widget_and_run(page, artifacts):
    clear_canvas(page)
    page.click('[data-action="palette"]')
    page.fill(".fw-palette-search", "int value")
    page.keyboard.press("Enter")
    page.click('[data-action="palette"]')
    page.fill(".fw-palette-search", "show")
    page.click('.fw-palette-item[data-node-type="ShowValue"]')
    assert page.locator(".fw-node").count() == 2
    src = page.locator('.fw-node[data-node-type="IntValue"]').get_attribute("data-node-id")
    dst = page.locator('.fw-node[data-node-type="ShowValue"]').get_attribute("data-node-id")
    # move the viewer to the right of the number so the wire is long enough to see
    title = node(page, dst).locator(".fw-title")
    x, y = centre(title)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 300, y + 60, steps=8)
    page.mouse.up()
    drag(page, sock(page, src, "out", "value"), sock(page, dst, "in", "value"))
    assert wire(page, src, "value", dst, "value").count() == 1
    number = node(page, src).locator('input[data-widget="value"]')
    number.fill("42")
    number.press("Tab")
    page.click('[data-action="run"]')
    page.wait_for_selector(f'.fw-node[data-node-id="{dst}"][data-status="done"]')
    assert node(page, dst).locator(".fw-text").text_content() == "42"
    assert page.locator(".fw-root").get_attribute("data-run-status") == "success"
    page.screenshot(path=str(artifacts / "canvas-wired-and-run.png"))


def test_incompatible_wire_is_refused_and_occupied_input_is_replaced(page, tmp_path):
    open_workflow(page, doc([("t", "StringValue", {"value": "x"}, (0, 0)), ("f", "FloatValue", {}, (0, 200)),
                             ("i", "IntValue", {}, (0, 360)), ("m", "Math", {}, (420, 120))]), tmp_path)
    drag(page, sock(page, "t", "out", "value"), sock(page, "m", "in", "a"))
    toast = page.locator('[data-role="toast"]')
    toast.wait_for(state="visible")
    assert "a STRING output cannot feed a FLOAT input" in toast.text_content()
    assert page.locator("path.fw-wire").count() == 0
    drag(page, sock(page, "f", "out", "value"), sock(page, "m", "in", "a"))
    assert wire(page, "f", "value", "m", "a").count() == 1
    assert node(page, "m").locator('input[data-widget="a"]').count() == 0  # a linked widget is hidden
    drag(page, sock(page, "i", "out", "value"), sock(page, "m", "in", "a"))  # INT widens into FLOAT
    assert wire(page, "i", "value", "m", "a").count() == 1
    assert page.locator('path.fw-wire[data-to="m"][data-input="a"]').count() == 1
    # pull the wire off the input and drop it on empty canvas: the link goes, the widget comes back
    x, y = centre(sock(page, "m", "in", "a"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 200, y + 300, steps=8)
    page.mouse.up()
    assert page.locator("path.fw-wire").count() == 0
    assert node(page, "m").locator('input[data-widget="a"]').is_visible()


def test_editing_gestures_select_duplicate_delete_undo_redo_pan_zoom(page, tmp_path):
    open_workflow(page, doc([("a", "IntValue", {"value": 3}, (0, 0)), ("b", "ShowValue", {}, (400, 0))],
                            [("a", "value", "b", "value")]), tmp_path)
    title = node(page, "a").locator(".fw-title")
    before = node(page, "a").bounding_box()
    x, y = centre(title)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 120, steps=6)
    page.mouse.up()
    after = node(page, "a").bounding_box()
    assert abs(after["x"] - before["x"] - 80) < 3 and abs(after["y"] - before["y"] - 120) < 3
    assert page.locator(".fw-node[data-selected]").count() == 1
    node(page, "b").locator(".fw-title").click(modifiers=["Shift"])
    page.keyboard.press("Control+d")
    assert page.locator(".fw-node").count() == 4
    new = [i for i in canvas_ids(page) if i not in ("a", "b")]
    assert page.locator(f'path.fw-wire[data-to="{new[1]}"]').count() == 1  # the copy keeps its inner link
    page.keyboard.press("Delete")
    assert canvas_ids(page) == ["a", "b"]
    page.keyboard.press("Control+z")
    assert len(canvas_ids(page)) == 4
    page.keyboard.press("Control+z")
    assert canvas_ids(page) == ["a", "b"]
    page.keyboard.press("Control+y")
    assert len(canvas_ids(page)) == 4
    world = page.locator('[data-role="world"]')
    t0 = world.evaluate("e => e.style.transform")
    page.mouse.move(700, 600)
    page.mouse.wheel(0, -400)
    page.wait_for_function("t => document.querySelector('[data-role=world]').style.transform !== t", arg=t0)
    zoom = float(re.search(r"scale\(([\d.]+)\)", world.evaluate("e => e.style.transform")).group(1))
    assert zoom > float(re.search(r"scale\(([\d.]+)\)", t0).group(1))
    page.mouse.move(700, 650)
    page.mouse.down()
    page.mouse.move(600, 500, steps=5)
    page.mouse.up()
    assert world.evaluate("e => e.style.transform") != t0
    # copy and paste where the pointer is; rename a node by double-clicking its title
    page.click('[data-action="fit"]')
    node(page, "a").locator(".fw-title").click()
    page.keyboard.press("Control+c")
    page.mouse.move(300, 450)
    page.keyboard.press("Control+v")
    assert len(canvas_ids(page)) == 5
    pasted = page.locator(".fw-node[data-selected]")
    assert pasted.count() == 1 and pasted.get_attribute("data-node-type") == "IntValue"
    assert abs(pasted.bounding_box()["x"] - 300) < 40
    node(page, "b").locator(".fw-title-text").dblclick()
    page.keyboard.press("Control+a")
    page.keyboard.type("Result <b>here</b>")
    page.keyboard.press("Enter")
    assert node(page, "b").locator(".fw-title-text").text_content() == "Result <b>here</b>"
    page.keyboard.press("Control+z")
    assert node(page, "b").locator(".fw-title-text").text_content() == "Show Value"


def test_run_shows_progress_preview_and_downloadable_image(page, tmp_path, artifacts):
    open_workflow(page, doc([("p", "TestPicture", {"width": 120, "height": 80, "delay": 0.5}, (0, 0)),
                             ("w", "WritePicture", {"prefix": "e2e"}, (420, 0))],
                            [("p", "image", "w", "image")], title="picture"), tmp_path)
    page.screenshot(path=str(artifacts / "run-before.png"))
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="p"][data-status="running"]')
    page.wait_for_selector('.fw-node[data-node-id="p"] img.fw-preview[src^="data:image/jpeg"]')
    bar = node(page, "p").locator(".fw-progress-bar")
    # the bar is scaled to the progress (a transform, no layout) and glides there through a CSS transition:
    # wait until it is drawn with a width, not only styled with one
    page.wait_for_function("() => document.querySelector("
                           "'.fw-node[data-node-id=\"p\"] .fw-progress-bar').getBoundingClientRect().width > 0")
    assert bar.bounding_box()["width"] > 0
    img = node(page, "w").locator(".fw-images img")
    img.wait_for()
    page.wait_for_function("() => { const i = document.querySelector('.fw-node[data-node-id=\"w\"] .fw-images img');"
                           " return i && i.complete && i.naturalWidth === 120; }")
    page.wait_for_selector('.fw-node[data-node-id="w"][data-status="done"]')
    page.locator("#fluxwire-gallery img").first.wait_for()
    page.screenshot(path=str(artifacts / "run-after.png"))
    href = node(page, "w").locator("a.fw-download").get_attribute("href")
    response = page.request.get(href)
    assert response.ok
    with Image.open(io.BytesIO(response.body())) as png:
        assert png.size == (120, 80)
        embedded = json.loads(png.text["fluxwire.workflow"])
    assert [(n["id"], n["type"]) for n in embedded["nodes"]] == [("p", "TestPicture"), ("w", "WritePicture")]
    assert embedded["nodes"][0]["widgets"]["delay"] == 0.5


def test_a_failing_node_is_highlighted_with_its_message(page, tmp_path):
    open_workflow(page, doc([("m", "Math", {"a": 1.0, "b": 0.0, "op": "divide"}, (0, 0)),
                             ("s", "ShowValue", {}, (420, 0))], [("m", "result", "s", "value")]), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="m"][data-status="error"]')
    assert "cannot divide by zero" in node(page, "m").locator(".fw-error").text_content()
    assert "cannot divide by zero" in page.locator('[data-role="banner"]').text_content()
    assert node(page, "s").get_attribute("data-status") == "idle"


def test_stop_a_run_and_other_tabs_stay_untouched(page, browser, app_url, tmp_path):
    other = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    other.goto(app_url)
    other.wait_for_selector('.fw-root[data-ready="1"]')
    graph = doc([("slow", "SlowSteps", {"steps": 400, "delay": 0.05}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                [("slow", "count", "s", "value")])
    open_workflow(page, graph, tmp_path)
    open_workflow(other, graph, tmp_path, "other.json")
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="slow"][data-status="running"]')
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"slow\"] .fw-badge')"
                           ".textContent.includes('/400')")
    other.click('[data-action="stop"]')  # another tab's Stop must not stop this run
    other.wait_for_timeout(400)
    assert node(page, "slow").get_attribute("data-status") == "running"
    page.click('[data-action="stop"]')
    page.wait_for_selector('.fw-root[data-run-status="interrupted"]')
    assert node(page, "slow").get_attribute("data-status") == "idle"
    assert node(page, "s").get_attribute("data-status") == "idle"
    assert node(page, "s").locator(".fw-text").is_hidden()
    statuses = other.locator(".fw-node").evaluate_all("els => els.map(e => e.dataset.status)")
    assert statuses == ["idle", "idle"]
    other.context.close()


def test_run_again_while_running_queues_the_next_run(page, tmp_path):
    open_workflow(page, doc([("slow", "SlowSteps", {"steps": 30, "delay": 0.1}, (0, 0)),
                             ("s", "ShowValue", {}, (420, 0))], [("slow", "count", "s", "value")]), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="slow"][data-status="running"]')
    number = node(page, "slow").locator('input[data-widget="steps"]')
    number.fill("3")
    number.press("Tab")
    page.click('[data-action="run"]')
    assert "queued" in page.locator('[data-role="status"]').text_content()
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"s\"] .fw-text').textContent === '3'",
                           timeout=30_000)
    page.wait_for_selector('.fw-root[data-run-status="success"]')


def test_save_and_load_json(page, tmp_path):
    original = doc([("a", "IntValue", {"value": 7}, (10, 20)), ("b", "ShowValue", {}, (400, 40))],
                   [("a", "value", "b", "value")], title="save me")
    open_workflow(page, original, tmp_path)
    with page.expect_download() as dl:
        page.click('[data-action="save"]')
    saved_path = tmp_path / "saved.json"
    dl.value.save_as(saved_path)
    assert dl.value.suggested_filename == "save-me.json"
    saved = json.loads(saved_path.read_text())
    assert saved["format"] == "fluxwire.workflow" and saved["metadata"]["title"] == "save me"
    assert [(n["id"], n["type"], n["widgets"], n["ui"]["pos"]) for n in saved["nodes"]] == \
        [(n["id"], n["type"], n["widgets"], n["ui"]["pos"]) for n in original["nodes"]]
    assert saved["links"] == original["links"]
    clear_canvas(page)
    with page.expect_file_chooser() as fc:
        page.click('[data-action="open"]')
    fc.value.set_files(str(saved_path))
    page.wait_for_selector('.fw-node[data-node-id="b"]')
    assert canvas_ids(page) == ["a", "b"]
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "7"
    assert wire(page, "a", "value", "b", "value").count() == 1


def test_drop_a_png_and_get_its_workflow_back(page):
    carried = doc([("x", "FloatValue", {"value": 2.5}, (0, 0)), ("y", "ShowValue", {}, (380, 0))],
                  [("x", "value", "y", "value")], title="from a picture")
    info = PngInfo()
    info.add_text("fluxwire.workflow", json.dumps(carried))
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buf, format="PNG", pnginfo=info)
    stage = page.locator('[data-role="stage"]')
    transfer = page.evaluate_handle(
        """bytes => { const dt = new DataTransfer();
                      dt.items.add(new File([new Uint8Array(bytes)], 'picture.png', {type: 'image/png'}));
                      return dt; }""", list(buf.getvalue()))
    stage.dispatch_event("dragover", {"dataTransfer": transfer})
    stage.dispatch_event("drop", {"dataTransfer": transfer})
    page.wait_for_selector('.fw-node[data-node-id="y"]')
    assert canvas_ids(page) == ["x", "y"]
    assert node(page, "x").locator('input[data-widget="value"]').input_value() == "2.5"
    assert wire(page, "x", "value", "y", "value").count() == 1
    # a PNG without a workflow is refused with a reason, and the canvas keeps what it had
    empty = io.BytesIO()
    Image.new("RGB", (4, 4)).save(empty, format="PNG")
    transfer = page.evaluate_handle(
        """bytes => { const dt = new DataTransfer();
                      dt.items.add(new File([new Uint8Array(bytes)], 'plain.png', {type: 'image/png'}));
                      return dt; }""", list(empty.getvalue()))
    stage.dispatch_event("drop", {"dataTransfer": transfer})
    page.wait_for_selector('[data-role="banner"][data-kind="error"]')
    assert "no fluxwire workflow" in page.locator('[data-role="banner"]').text_content()
    assert canvas_ids(page) == ["x", "y"]


def test_user_text_is_never_html(page, tmp_path):
    evil = '<img src=x onerror="window.__pwned=1">'
    open_workflow(page, {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": evil},
                         "nodes": [{"id": "e", "type": "StringValue", "widgets": {"value": evil},
                                    "ui": {"pos": [0, 0], "title": evil}},
                                   {"id": "s", "type": "ShowValue", "widgets": {}, "ui": {"pos": [400, 0]}}],
                         "links": [{"from": "e", "output": "value", "to": "s", "input": "value"}]}, tmp_path)
    assert node(page, "e").locator(".fw-title-text").text_content() == evil
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="s"][data-status="done"]')
    assert node(page, "s").locator(".fw-text").text_content() == repr(evil)
    assert page.locator(".fw-root img[src='x']").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_run_selected_computes_only_what_the_selection_needs(page, tmp_path):
    open_workflow(page, doc([("a", "IntValue", {"value": 5}, (0, 0)), ("s1", "ShowValue", {}, (400, 0)),
                             ("f", "FloatValue", {"value": 1.5}, (0, 250)), ("s2", "ShowValue", {}, (400, 250))],
                            [("a", "value", "s1", "value"), ("f", "value", "s2", "value")]), tmp_path)
    assert page.locator('[data-action="run-selected"]').is_disabled()
    node(page, "s1").locator(".fw-title").click()
    page.click('[data-action="run-selected"]')
    page.wait_for_selector('.fw-root[data-run-status="success"]')
    statuses = {i: node(page, i).get_attribute("data-status") for i in ("a", "s1", "f", "s2")}
    assert statuses == {"a": "done", "s1": "done", "f": "idle", "s2": "idle"}
    assert node(page, "s1").locator(".fw-text").text_content() == "5"


def test_shipped_workflows_menu_opens_each_file(page):
    from web.canvas import shipped_workflows

    files = shipped_workflows()
    if not files:
        pytest.skip("no workflow is shipped in workflows/ yet")
    options = page.locator(".fw-shipped option").evaluate_all("os => os.map(o => o.value).filter(Boolean)")
    assert options == list(files)
    name = options[-1]
    expected = sorted(n["id"] for n in json.loads(files[name].read_text())["nodes"])
    page.select_option(".fw-shipped", name)
    page.wait_for_function("ids => JSON.stringify([...document.querySelectorAll('.fw-node')]"
                           ".map(n => n.dataset.nodeId).sort()) === JSON.stringify(ids)", arg=expected)
    assert page.locator(".fw-shipped").input_value() == ""


def test_every_widget_kind_edits_the_value_python_receives(page, tmp_path):
    open_workflow(page, doc([("w", "EveryWidget", {}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                            [("w", "summary", "s", "value")]), tmp_path)
    w = node(page, "w")
    count = w.locator('input[data-widget="count"]')
    assert (count.get_attribute("min"), count.get_attribute("max")) == ("0", "10")
    count.fill("7")
    count.press("Tab")
    slider = w.locator('input[data-widget="strength.slider"]')
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)  # far right: the maximum
    w.locator('input[data-widget="name"]').fill("dog")
    w.locator('input[data-widget="name"]').press("Tab")
    prompt = w.locator('textarea[data-widget="prompt"]')
    prompt.fill("a blue square\non a green background")
    prompt.press("Tab")
    w.locator('select[data-widget="mode"]').select_option("exact")
    w.locator('input[data-widget="enabled"]').check()
    seed = w.locator('input[data-widget="seed"]')
    w.locator('[data-action="randomize"]').click()
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"w\"] input[data-widget=\"seed\"]')"
                           ".value !== '0'")
    seed_value = int(seed.input_value())
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="s"][data-status="done"]')
    received = json.loads(ast.literal_eval(node(page, "s").locator(".fw-text").text_content()))  # repr of the text
    assert received == {"count": 7, "strength": 1.0, "name": "dog", "prompt": "a blue square\non a green background",
                        "mode": "exact", "enabled": True, "seed": seed_value}
    assert 0 < seed_value <= 2**32 - 1


def test_a_seed_marked_random_changes_before_every_run(page, tmp_path, artifacts):
    open_workflow(page, doc([("w", "EveryWidget", {"seed": 5}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                            [("w", "summary", "s", "value")]), tmp_path)
    text = node(page, "s").locator(".fw-text")
    received = []
    for mode in ("fixed", "random", "random"):
        node(page, "w").locator('select[data-widget="seed.mode"]').select_option(mode)
        before = text.text_content()
        page.click('[data-action="run"]')
        page.wait_for_function("t => { const e = document.querySelector('.fw-node[data-node-id=\"s\"] .fw-text');"
                               " return e.textContent && e.textContent !== t; }", arg=before)
        seed = json.loads(ast.literal_eval(text.text_content()))["seed"]
        assert seed == int(node(page, "w").locator('input[data-widget="seed"]').input_value())
        received.append(seed)
    assert received[0] == 5 and len(set(received)) == 3
    page.screenshot(path=str(artifacts / "every-widget.png"))


def test_model_file_dropdown_follows_the_models_folder(page, tmp_path, module_executor):
    folder = module_executor.env.models_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old.safetensors").write_bytes(b"")
    page.click('[data-action="refresh"]')
    open_workflow(page, doc([("m", "PickModelFile", {"file": "old.safetensors"}, (0, 0)),
                             ("s", "ShowValue", {}, (420, 0))], [("m", "name", "s", "value")]), tmp_path)
    choice = node(page, "m").locator('select[data-widget="file"]')
    assert choice.locator("option").all_text_contents() == ["old.safetensors"]
    (folder / "new.safetensors").write_bytes(b"")
    page.click('[data-action="refresh"]')
    page.wait_for_function("() => document.querySelectorAll('.fw-node[data-node-id=\"m\"] option').length === 2")
    choice = node(page, "m").locator('select[data-widget="file"]')
    choice.select_option("new.safetensors")
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="s"][data-status="done"]')
    assert node(page, "s").locator(".fw-text").text_content() == repr("new.safetensors")


def test_upload_a_picture_for_load_image(page, tmp_path, module_executor):
    picture = tmp_path / "my photo.png"
    Image.new("RGB", (40, 24), (10, 200, 30)).save(picture)
    open_workflow(page, doc([("img", "LoadImage", {"image": "example.png", "fit": "none"}, (0, 0)),
                             ("s", "ShowValue", {}, (420, 0))], [("img", "image", "s", "value")]), tmp_path)
    node(page, "img").locator('[data-upload="image"] ~ input[type="file"]').set_input_files(str(picture))
    page.wait_for_function(
        "() => document.querySelector('.fw-node[data-node-id=\"img\"] select').value === 'my-photo.png'")
    stored = module_executor.env.input_dir / "my-photo.png"
    assert stored.read_bytes() == picture.read_bytes()
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="s"][data-status="done"]')
    assert "[0.0392, 0.7843, 0.1176]" in node(page, "s").locator(".fw-text").text_content()  # the uploaded green


def test_stop_also_cancels_the_run_waiting_behind_this_tabs_run(page, tmp_path):
    open_workflow(page, doc([("slow", "SlowSteps", {"steps": 60, "delay": 0.1}, (0, 0)),
                             ("s", "ShowValue", {}, (420, 0))], [("slow", "count", "s", "value")]), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="slow"][data-status="running"]')
    number = node(page, "slow").locator('input[data-widget="steps"]')
    number.fill("2")
    number.press("Tab")
    page.click('[data-action="run"]')  # waits behind the first run
    page.wait_for_timeout(500)
    assert node(page, "slow").get_attribute("data-status") == "running"  # the waiting run does not take over
    page.click('[data-action="stop"]')
    page.wait_for_selector('.fw-root[data-run-status="interrupted"]')
    page.wait_for_timeout(1500)  # the waiting run would have finished in 0.2 s had it started
    assert page.locator(".fw-root").get_attribute("data-run-status") == "interrupted"
    assert node(page, "s").locator(".fw-text").is_hidden()
    assert page.locator(".fw-root").get_attribute("data-running") == "0"
