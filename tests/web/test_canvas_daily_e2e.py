"""The canvas for daily use (issue 17) in a real browser: never lose work, build fast.

Real Chromium, real app, real workflows folder on disk: what the page shows is checked against the files
the server wrote and against what the canvas sends to Python.
"""
from __future__ import annotations

import json

import pytest

from .test_canvas_e2e import centre, doc, node, open_workflow, sock, wire

pytestmark = pytest.mark.e2e


def two_nodes(value=7, title="daily"):
    return doc([("a", "IntValue", {"value": value}, (40, 40)), ("b", "ShowValue", {}, (420, 60))],
               [("a", "value", "b", "value")], title=title)


def set_value(page, node_id, value):
    box = node(page, node_id).locator('input[data-widget="value"]')
    box.fill(str(value))
    box.press("Tab")


def value_of(page, node_id):
    return node(page, node_id).locator('input[data-widget="value"]').input_value()


def wait_autosaved(page, node_id, value):
    """The autosave is written a moment after a change: wait until it holds `value` for the node."""
    page.wait_for_function("([id, v]) => { const s = JSON.parse(localStorage.getItem('fluxwire:autosave:' + location.pathname)"
                           " || 'null'); const n = s && s.doc.nodes.find(n => n.id === id);"
                           " return !!n && n.widgets.value === v; }", arg=[node_id, value])


def autosaved_document(page):
    """The document as the canvas last sent it (the autosave holds the same, written 250 ms after a change)."""
    page.wait_for_timeout(400)
    return page.evaluate("() => JSON.parse(localStorage.getItem('fluxwire:autosave:' + location.pathname)).doc")


def focus_canvas(page):
    page.locator('[data-role="stage"]').click(position={"x": 8, "y": 8})


# ------------------------------------------------------------------ never lose work

def test_reload_restores_the_graph_and_its_undo_history(page, tmp_path, artifacts):
    open_workflow(page, two_nodes(7), tmp_path)
    set_value(page, "a", 42)
    set_value(page, "a", 43)
    page.wait_for_selector('[data-role="doc-name"][data-dirty="1"]')  # shown once the autosave is written
    wait_autosaved(page, "a", 43)
    page.reload()
    page.wait_for_selector('.fw-root[data-ready="1"]')
    page.wait_for_selector('.fw-root[data-restored="1"]')
    assert sorted(page.locator(".fw-node").evaluate_all("els => els.map(e => e.dataset.nodeId)")) == ["a", "b"]
    assert value_of(page, "a") == "43"
    assert wire(page, "a", "value", "b", "value").count() == 1
    assert page.locator('[data-role="doc-name"]').get_attribute("data-dirty") == "1"  # still not saved anywhere
    page.screenshot(path=str(artifacts / "daily-restored-after-reload.png"))
    focus_canvas(page)
    page.keyboard.press("Control+z")
    assert value_of(page, "a") == "42"  # the undo history came back too
    page.keyboard.press("Control+z")
    assert value_of(page, "a") == "7"
    page.keyboard.press("Control+y")
    assert value_of(page, "a") == "42"
    # the restored document is what a run uses: run it and read the result
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="b"][data-status="done"]')
    assert node(page, "b").locator(".fw-text").text_content() == "42"


def test_gradio_keeps_no_run_history_of_its_own(page, tmp_path):
    # Gradio's run history stored every run's whole document in localStorage and rewrote the list for each
    # message of a run (slow with big graphs, and it filled the storage the autosave needs): it is off; the
    # canvas's Runs panel is the history
    open_workflow(page, two_nodes(5), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="b"][data-status="done"]')
    page.wait_for_selector('.fw-root[data-run-status="success"]')
    page.wait_for_timeout(500)
    keys = page.evaluate("() => Object.keys(localStorage)")
    assert [k for k in keys if k.startswith("gradio:run-history")] == []
    assert any(k.startswith("fluxwire:history:") for k in keys)  # the canvas recorded the run itself
    assert page.locator("footer .run-history").count() == 0


def test_leaving_with_unsaved_changes_asks_first(page, tmp_path):
    open_workflow(page, two_nodes(7), tmp_path)
    assert page.locator(".fw-root").get_attribute("data-dirty") == "0"  # as in the file just opened
    page.close(run_before_unload=True)  # nothing changed: no question
    assert page.dialogs == []


def test_leaving_after_a_change_asks_first(page, tmp_path):
    open_workflow(page, two_nodes(7), tmp_path)
    set_value(page, "a", 8)
    page.wait_for_selector('.fw-root[data-dirty="1"]')
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    assert [kind for kind, _ in page.dialogs] == ["beforeunload"]


def test_save_save_as_open_rename_delete_in_the_workflows_folder(page, tmp_path, workflows_dir, artifacts):
    open_workflow(page, two_nodes(7), tmp_path)
    focus_canvas(page)
    page.keyboard.press("Control+s")  # never saved there: asks for a name
    page.fill('[data-field="workflow-name"]', "my flow")
    page.keyboard.press("Enter")
    # an opened file is already clean (data-dirty 0): wait for the saved name, which comes with the answer
    page.wait_for_function("() => { const e = document.querySelector('[data-role=\"doc-name\"]');"
                           " return e.dataset.dirty === '0' && e.textContent === 'my flow'; }")
    saved = json.loads((workflows_dir / "my flow.json").read_text())
    assert saved["nodes"][0]["widgets"] == {"value": 7} and saved["links"] == two_nodes()["links"]
    assert saved["metadata"]["title"] == "my flow"

    set_value(page, "a", 11)
    page.wait_for_selector('[data-role="doc-name"][data-dirty="1"]')
    node(page, "a").locator('input[data-widget="value"]').fill("12")
    page.keyboard.press("Control+s")  # while typing in a widget: the typed value is saved, no dialog
    page.wait_for_selector('[data-role="doc-name"][data-dirty="0"]')
    assert page.locator('[data-role="dialog"]').is_hidden()
    assert json.loads((workflows_dir / "my flow.json").read_text())["nodes"][0]["widgets"] == {"value": 12}

    page.click('[data-action="save-as"]')
    page.fill('[data-field="workflow-name"]', "my flow")  # taken: refused, nothing overwritten
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="banner"][data-kind="error"]')
    assert "already exists" in page.locator('[data-role="banner"]').text_content()
    page.fill('[data-field="workflow-name"]', "copy")
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="doc-name"]:text-is("copy")')
    assert (workflows_dir / "copy.json").is_file()

    page.click('[data-action="new"]')
    assert page.locator(".fw-node").count() == 0
    assert page.locator('[data-role="doc-name"]').text_content() == "untitled"
    focus_canvas(page)
    page.keyboard.press("Control+o")
    page.wait_for_selector('[data-workflow="copy"]')
    names = page.locator("[data-workflow]").evaluate_all("els => els.map(e => e.dataset.workflow)")
    assert names[0] == "copy" and set(names) >= {"copy", "my flow"}  # most recently used first
    page.screenshot(path=str(artifacts / "daily-my-workflows.png"))
    row = page.locator('[data-workflow="copy"]')
    row.locator('[data-action="rename-workflow"]').click()
    page.fill('[data-field="rename-workflow"]', "copy 2")
    page.keyboard.press("Enter")
    page.wait_for_selector('[data-workflow="copy 2"]')
    assert (workflows_dir / "copy 2.json").is_file() and not (workflows_dir / "copy.json").exists()
    delete = page.locator('[data-workflow="my flow"] [data-action="delete-workflow"]')
    delete.click()
    assert (workflows_dir / "my flow.json").exists()  # the first click only asks
    delete.click()
    page.wait_for_selector('[data-workflow="my flow"]', state="detached")
    assert not (workflows_dir / "my flow.json").exists()
    page.locator('[data-workflow="copy 2"] [data-action="open-workflow"]').click()
    page.wait_for_selector('.fw-node[data-node-id="b"]')
    assert value_of(page, "a") == "12"
    assert page.locator('[data-role="doc-name"]').text_content() == "copy 2"
    assert page.locator('[data-role="doc-name"]').get_attribute("data-dirty") == "0"
    focus_canvas(page)
    page.keyboard.press("Control+z")  # opening replaced the empty New document as one undo step
    assert page.locator(".fw-node").count() == 0


# ------------------------------------------------------------------ build fast

def palette_types(page):
    return page.locator(".fw-palette-item").evaluate_all("els => els.map(e => e.dataset.nodeType)")


def test_search_ranks_by_match_quality_with_comfyui_names_and_arrow_keys(page, tmp_path):
    open_workflow(page, doc([("x", "Note", {}, (40, 40))]), tmp_path)
    page.click('[data-action="palette"]')
    page.fill(".fw-palette-search", "clip text encode")
    assert palette_types(page)[:2] == ["TextEncode", "TextEncodeFlux"]
    page.keyboard.press("Enter")
    page.wait_for_selector('.fw-node[data-node-type="TextEncode"]')
    page.click('[data-action="palette"]')
    page.fill(".fw-palette-search", "ksampler")
    found = palette_types(page)
    assert found[0] == "KSampler" and set(found[1:3]) == {"KSamplerAdvanced", "KSamplerSelect"}
    page.fill(".fw-palette-search", "empty latent image")  # ComfyUI's EmptyLatentImage
    assert palette_types(page)[0] == "EmptyLatent"
    page.fill(".fw-palette-search", "vae dec")
    assert palette_types(page)[0] == "VAEDecode"
    page.fill(".fw-palette-search", "ksampler")
    page.keyboard.press("ArrowDown")
    second = palette_types(page)[1]
    assert page.locator('.fw-palette-item[data-active="1"]').get_attribute("data-node-type") == second
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.fw-node[data-node-type="{second}"]')


def test_release_a_wire_on_empty_canvas_to_add_a_wired_node(page, tmp_path, artifacts):
    open_workflow(page, doc([("a", "IntValue", {"value": 3}, (40, 40)), ("p", "WritePicture", {}, (40, 300)),
                             ("v", "ShowValue", {}, (700, 300))]), tmp_path)
    out = sock(page, "a", "out", "value")
    x0, y0 = centre(out)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 150, y0 + 60, steps=6)
    # while dragging, the inputs the wire may end on are marked, the others are not
    assert sock(page, "v", "in", "value").get_attribute("data-compatible") == "1"
    assert sock(page, "p", "in", "image").get_attribute("data-compatible") is None
    page.mouse.move(x0 + 300, y0 + 80, steps=6)
    page.mouse.up()
    assert page.locator('[data-role="palette"]').is_visible()
    assert "INT" in page.locator('[data-role="palette-filter"]').text_content()
    listed = palette_types(page)
    # nodes with an input an INT may feed (sockets or widgets), none without one
    assert {"ShowValue", "KSampler", "TestPicture"} <= set(listed)
    assert not {"VAEDecode", "LoadVAE", "Note", "SaveImage"} & set(listed)
    page.keyboard.type("show")
    page.screenshot(path=str(artifacts / "daily-wire-release-search.png"))
    page.keyboard.press("Enter")
    new = page.locator('.fw-node[data-node-type="ShowValue"]:not([data-node-id="v"])')
    new.wait_for()
    new_id = new.get_attribute("data-node-id")
    assert wire(page, "a", "value", new_id, "value").count() == 1
    nx, ny = centre(new.locator(".fw-title"))
    assert abs(nx - (x0 + 300)) < 260 and abs(ny - (y0 + 80)) < 120  # placed where the wire was let go
    focus_canvas(page)
    page.keyboard.press("Control+z")  # node and wire came as one step
    assert page.locator(f'.fw-node[data-node-id="{new_id}"]').count() == 0
    assert page.locator("path.fw-wire").count() == 0


def test_every_part_of_a_sockets_hit_area_starts_a_wire(page, tmp_path):
    """Nodes are clipped just outside their box (canvas.css, for cheap hit testing): the clip must leave each
    socket's whole hit area pressable, the part outside the node's edge included (a clip at the node's edge
    left only the inner half of every socket)."""
    open_workflow(page, doc([("a", "IntValue", {"value": 3}, (40, 40)), ("v", "ShowValue", {}, (500, 40))]), tmp_path)
    edge = node(page, "a").bounding_box()
    for inset in (3, 11, 21):  # from the socket's outer side (beyond the node's right edge) to its inner side
        box = sock(page, "a", "out", "value").bounding_box()
        x, y = box["x"] + box["width"] - inset, box["y"] + box["height"] / 2
        assert (x > edge["x"] + edge["width"]) == (inset < 12)  # the first two presses lie outside the node
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y + 40, steps=4)
        assert sock(page, "v", "in", "value").get_attribute("data-compatible") == "1", inset
        target = sock(page, "v", "in", "value").bounding_box()
        page.mouse.move(target["x"] + 4, target["y"] + target["height"] / 2, steps=4)  # the input's outer side
        page.mouse.up()
        assert wire(page, "a", "value", "v", "value").count() == 1, inset
        focus_canvas(page)
        page.keyboard.press("Control+z")
        assert wire(page, "a", "value", "v", "value").count() == 0


def test_seed_control_increment_decrement_random(page, tmp_path):
    open_workflow(page, doc([("s", "RandomNoise", {"seed": 10}, (40, 40))]), tmp_path)
    seed = node(page, "s").locator('input[data-widget="seed"]')
    mode = node(page, "s").locator('select[data-widget="seed.mode"]')
    assert mode.evaluate("s => [...s.options].map(o => o.value)") == ["fixed", "increment", "decrement", "random"]
    mode.select_option("increment")
    for expected in ("11", "12"):
        page.click('[data-action="run"]')
        page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
        assert seed.input_value() == expected
        page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
    mode.select_option("decrement")
    page.click('[data-action="run"]')
    page.wait_for_function("() => document.querySelector('.fw-root').dataset.runStatus")
    assert seed.input_value() == "11"
    saved = autosaved_document(page)
    assert saved["nodes"][0]["properties"]["seed_modes"] == {"seed": "decrement"}


def test_a_new_loader_starts_with_a_model_file_that_exists(page, module_executor):
    folder = module_executor.env.models_dir / "vae"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my-own-ae.safetensors").write_bytes(b"0")
    try:
        page.click('[data-action="refresh"]')
        page.wait_for_selector('[data-role="status"]:text-is("node list and model files re-read")')
        page.click('[data-action="palette"]')
        page.fill(".fw-palette-search", "load vae")
        page.keyboard.press("Enter")
        loader = page.locator('.fw-node[data-node-type="LoadVAE"]').last
        assert loader.locator('select[data-widget="vae_name"]').input_value() == "my-own-ae.safetensors"
    finally:
        (folder / "my-own-ae.safetensors").unlink()


def test_groups_collapse_and_paste_with_links_round_trip_through_save(page, tmp_path, workflows_dir, artifacts):
    open_workflow(page, doc([("a", "IntValue", {"value": 4}, (40, 40)), ("b", "ShowValue", {}, (420, 40)),
                             ("c", "ShowValue", {}, (420, 260))], [("a", "value", "b", "value")]), tmp_path)
    node(page, "a").locator(".fw-title").click()
    node(page, "b").locator(".fw-title").click(modifiers=["Shift"])
    page.keyboard.press("Control+g")
    group = page.locator('.fw-group[data-group="0"]')
    group.wait_for()
    gb, ab, bb = group.bounding_box(), node(page, "a").bounding_box(), node(page, "b").bounding_box()
    for box in (ab, bb):  # the group surrounds the selected nodes
        assert gb["x"] < box["x"] and gb["y"] < box["y"]
        assert gb["x"] + gb["width"] > box["x"] + box["width"] and gb["y"] + gb["height"] > box["y"] + box["height"]
    c_before = node(page, "c").bounding_box()
    group.locator(".fw-group-title").dblclick()
    page.fill('[data-field="group-title"]', "Inputs")
    page.keyboard.press("Enter")
    page.locator('.fw-group[data-group="0"] [data-action="group-color"]').click()
    # drag the title: the group and the nodes inside move, the node outside stays
    hx, hy = centre(page.locator('.fw-group[data-group="0"] .fw-group-name'))
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(hx + 60, hy + 200, steps=8)
    page.mouse.up()
    a_after = node(page, "a").bounding_box()
    assert abs(a_after["x"] - ab["x"] - 60) < 2 and abs(a_after["y"] - ab["y"] - 200) < 2
    assert node(page, "c").bounding_box() == c_before
    grip = page.locator('.fw-group[data-group="0"] .fw-group-resize')
    gx, gy = centre(grip)
    page.mouse.move(gx, gy)
    page.mouse.down()
    page.mouse.move(gx + 100, gy + 50, steps=5)
    page.mouse.up()
    assert abs(page.locator('.fw-group[data-group="0"]').bounding_box()["width"] - gb["width"] - 100) < 2
    # collapse b (Alt+C): its wire now meets its title bar
    node(page, "b").locator(".fw-title").click()
    page.keyboard.press("Alt+c")
    assert "fw-collapsed" in node(page, "b").get_attribute("class")
    assert node(page, "b").bounding_box()["height"] < bb["height"]
    # copy a, paste with its input links: copy c, Ctrl+Shift+V keeps the wire a -> copy
    node(page, "c").locator(".fw-title").click()
    page.keyboard.press("Control+c")
    page.mouse.move(900, 600)
    page.keyboard.press("Control+Shift+v")
    assert page.locator(".fw-node").count() == 4
    page.keyboard.press("Control+z")
    page.locator('.fw-node[data-node-id="c"] .fw-title').click()
    page.keyboard.press("Control+c")  # c is not fed: take b instead, which a feeds
    node(page, "b").locator(".fw-title").click()
    page.keyboard.press("Control+c")
    page.mouse.move(900, 600)
    page.keyboard.press("Control+Shift+v")
    copy = page.locator('.fw-node[data-node-type="ShowValue"]:not([data-node-id="b"]):not([data-node-id="c"])')
    copy_id = copy.get_attribute("data-node-id")
    assert wire(page, "a", "value", copy_id, "value").count() == 1
    page.keyboard.press("Control+v")  # a plain paste does not take the outside links
    plain = [i for i in page.locator('.fw-node[data-node-type="ShowValue"]').evaluate_all("els => els.map(e => e.dataset.nodeId)")
             if i not in ("b", "c", copy_id)]
    assert len(plain) == 1 and page.locator(f'path.fw-wire[data-to="{plain[0]}"]').count() == 0
    page.screenshot(path=str(artifacts / "daily-groups-collapse.png"))
    # Save in the folder and open again: groups (title, colour, box) and collapsed state come back
    page.click('[data-action="save-as"]')
    page.fill('[data-field="workflow-name"]', "arranged")
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="doc-name"]:text-is("arranged")')
    saved = json.loads((workflows_dir / "arranged.json").read_text())
    assert saved["groups"][0]["title"] == "Inputs" and saved["groups"][0]["color"] != "#3f5a7a"
    assert {n["id"]: n["ui"].get("collapsed") for n in saved["nodes"]}["b"] is True
    page.click('[data-action="new"]')
    focus_canvas(page)
    page.keyboard.press("Control+o")
    page.locator('[data-workflow="arranged"] [data-action="open-workflow"]').click()
    page.wait_for_selector('.fw-group[data-group="0"]')
    assert page.locator('.fw-group[data-group="0"] .fw-group-name').text_content() == "Inputs"
    assert "fw-collapsed" in node(page, "b").get_attribute("class")


def test_group_menu_pins_fits_selects_and_removes_a_group(page, tmp_path):
    """A group imported pinned (ComfyUI's flags.pinned) with its title size stays put until unpinned from its
    menu; the menu also selects its nodes, fits it to them and removes it (nodes kept), each undoable."""
    document = doc([("a", "IntValue", {}, (40, 180)), ("b", "ShowValue", {}, (400, 180)), ("c", "ShowValue", {}, (40, 800))],
                   [("a", "value", "b", "value"), ("a", "value", "c", "value")])
    document["groups"] = [{"title": "Inputs", "bounding": [0, 100, 1000, 500], "color": "#3f5a7a", "font_size": 30, "pinned": True}]
    open_workflow(page, document, tmp_path)
    page.click('[data-action="zoom-out"]')  # the fitted view puts the title right under the tab bar
    group = page.locator('.fw-group[data-group="0"]')
    assert group.get_attribute("data-pinned") == "1"
    assert group.locator(".fw-group-resize").count() == 0
    assert group.locator(".fw-group-title").evaluate("e => getComputedStyle(e).fontSize") == "30px"
    page.wait_for_timeout(300)  # the zoom's transition

    def drag_title(dx, dy):
        x, y = centre(group.locator(".fw-group-name"))
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + dx, y + dy, steps=6)
        page.mouse.up()

    def menu(item):
        group.locator(".fw-group-name").click(button="right")
        page.locator(f'[data-role="menu"] [data-menu="{item}"]').click()

    g0, a0, c0 = group.bounding_box(), node(page, "a").bounding_box(), node(page, "c").bounding_box()
    drag_title(60, 100)
    assert group.bounding_box() == g0 and node(page, "a").bounding_box() == a0  # pinned: nothing moved
    assert autosaved_document(page)["groups"][0]["pinned"] is True
    menu("group-pin")  # Unpin
    assert group.get_attribute("data-pinned") is None and group.locator(".fw-group-resize").count() == 1
    assert "pinned" not in autosaved_document(page)["groups"][0]
    drag_title(60, 100)
    a1 = node(page, "a").bounding_box()
    assert abs(a1["x"] - a0["x"] - 60) < 2 and abs(a1["y"] - a0["y"] - 100) < 2
    assert node(page, "c").bounding_box() == c0  # the node outside stayed
    menu("group-select")
    chosen = page.locator('.fw-node[data-selected="1"]').evaluate_all("els => els.map(e => e.dataset.nodeId).sort()")
    assert chosen == ["a", "b"]
    menu("group-fit")  # now just around a and b: much smaller than the 1000 x 500 it was
    fitted = autosaved_document(page)["groups"][0]["bounding"]
    b = node(page, "b").bounding_box()
    gb = group.bounding_box()
    assert fitted[2] < 1000 and fitted[3] < 500
    assert gb["x"] < a1["x"] and gb["x"] + gb["width"] > b["x"] + b["width"] and gb["y"] < a1["y"]
    menu("group-remove")
    assert page.locator(".fw-group").count() == 0 and page.locator(".fw-node").count() == 3
    assert autosaved_document(page).get("groups", []) == []
    focus_canvas(page)
    page.keyboard.press("Control+z")  # the group comes back as it was before removing
    page.wait_for_selector('.fw-group[data-group="0"]')
    assert autosaved_document(page)["groups"][0]["bounding"] == fitted


def test_fit_selection_and_space_drag_pan(page, tmp_path):
    open_workflow(page, doc([("a", "IntValue", {}, (0, 0)), ("far", "ShowValue", {}, (3000, 2000))]), tmp_path)
    node(page, "a").locator(".fw-title").click()
    page.keyboard.press(".")
    stage = page.locator('[data-role="stage"]').bounding_box()
    a = node(page, "a").bounding_box()
    assert abs((a["x"] + a["width"] / 2) - (stage["x"] + stage["width"] / 2)) < stage["width"] / 4
    assert not node(page, "far").is_visible() or node(page, "far").bounding_box()["x"] > stage["x"] + stage["width"]
    # Space + drag starting on a node pans the view instead of moving the node
    pos_before = autosaved_document(page)["nodes"][0]["ui"]["pos"]
    x, y = centre(node(page, "a").locator(".fw-title"))
    page.keyboard.down(" ")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 40, steps=6)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = node(page, "a").bounding_box()
    assert abs(moved["x"] - a["x"] - 120) < 2 and abs(moved["y"] - a["y"] - 40) < 2
    assert autosaved_document(page)["nodes"][0]["ui"]["pos"] == pos_before  # the node itself did not move


def test_bypass_and_mute_on_the_canvas_are_run_and_saved(page, tmp_path, workflows_dir, artifacts):
    open_workflow(page, doc([("n", "IntValue", {"value": 3}, (40, 40)),
                             ("m", "Math", {"b": 10.0, "op": "multiply"}, (360, 40)),
                             ("s", "ShowValue", {}, (700, 40)), ("t", "ShowValue", {}, (700, 300))],
                            [("n", "value", "m", "a"), ("m", "result", "s", "value"), ("n", "value", "t", "value")]),
                  tmp_path)
    node(page, "m").locator(".fw-title").click()
    page.keyboard.press("Control+b")
    assert node(page, "m").get_attribute("data-mode") == "bypass"
    page.click('[data-action="run"]')
    page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
    assert page.locator(".fw-root").get_attribute("data-run-status") == "success", \
        page.locator('[data-role="banner"]').text_content()
    assert node(page, "s").get_attribute("data-status") in ("done", "cached")  # t shows the same value
    assert node(page, "s").locator(".fw-text").text_content() == "3"  # passed through, not 30.0
    assert node(page, "m").get_attribute("data-status") == "idle"
    node(page, "t").locator(".fw-title").click()
    page.keyboard.press("Control+m")
    assert node(page, "t").get_attribute("data-mode") == "mute"
    page.screenshot(path=str(artifacts / "daily-bypass-mute.png"))
    page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
    page.click('[data-action="run"]')
    page.wait_for_function("() => ['success', 'error', 'invalid'].includes(document.querySelector('.fw-root').dataset.runStatus)")
    assert page.locator(".fw-root").get_attribute("data-run-status") == "success"
    assert node(page, "s").get_attribute("data-status") in ("done", "cached")
    assert node(page, "t").get_attribute("data-status") == "idle"  # muted: not part of the run
    page.click('[data-action="save-as"]')
    page.fill('[data-field="workflow-name"]', "modes")
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="doc-name"]:text-is("modes")')
    saved = {n["id"]: n.get("mode") for n in json.loads((workflows_dir / "modes.json").read_text())["nodes"]}
    assert saved == {"n": None, "m": "bypass", "s": None, "t": "mute"}
    node(page, "t").locator(".fw-title").click()
    page.keyboard.press("Control+m")  # again: back to normal
    assert node(page, "t").get_attribute("data-mode") is None


# ------------------------------------------------------------------ read big graphs

def test_wires_pass_behind_nodes_zoom_controls_and_find(page, tmp_path, artifacts):
    # the wire a -> c runs straight across node b (too tall for the wire to be led around it: routing.js)
    crossed = doc([("a", "IntValue", {}, (0, 480)), ("b", "Note", {"text": "in the way"}, (330, 40)),
                   ("c", "ShowValue", {}, (760, 480))], [("a", "value", "c", "value")])
    crossed["nodes"][1]["ui"]["size"] = [220, 1000]
    open_workflow(page, crossed, tmp_path)
    middle = page.evaluate("""() => {
        const p = document.querySelector('path.fw-wire[data-from="a"]');
        const len = p.getTotalLength();
        for (let t = 0.3; t <= 0.7; t += 0.02) {   // a point of the wire inside node b's box
          const pt = p.getPointAtLength(len * t), m = p.getScreenCTM();
          const x = pt.x * m.a + m.e, y = pt.y * m.d + m.f;
          const b = document.querySelector('.fw-node[data-node-id="b"]').getBoundingClientRect();
          if (x > b.left + 5 && x < b.right - 5 && y > b.top + 5 && y < b.bottom - 5) return [x, y];
        }
        return null; }""")
    assert middle is not None, "the test graph must have the wire cross node b"
    hit = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return e.closest('.fw-node') && e.closest('.fw-node').dataset.nodeId; }", middle)
    assert hit == "b"  # the node is drawn over the wire
    page.click('[data-action="zoom-reset"]')
    assert page.locator('[data-role="zoom-level"]').text_content() == "100 %"
    width_100 = node(page, "b").bounding_box()["width"]
    page.click('[data-action="zoom-in"]')
    assert page.locator('[data-role="zoom-level"]').text_content() == "125 %"
    assert abs(node(page, "b").bounding_box()["width"] - width_100 * 1.25) < 2
    page.click('[data-action="zoom-out"]')
    page.click('[data-action="zoom-out"]')
    assert page.locator('[data-role="zoom-level"]').text_content() == "80 %"
    # Ctrl+F: typing jumps to the first match, Enter to the next, and selects it
    node(page, "a").locator(".fw-title").click()
    page.keyboard.press("Control+f")
    page.keyboard.type("show value")
    assert page.locator('[data-role="find-count"]').text_content() == "1/1"
    assert node(page, "c").get_attribute("data-selected") == "1"
    stage = page.locator('[data-role="stage"]').bounding_box()
    cx, cy = centre(node(page, "c"))
    assert abs(cx - (stage["x"] + stage["width"] / 2)) < 3 and abs(cy - (stage["y"] + stage["height"] / 2)) < 3
    page.locator('[data-field="find"]').fill("value")
    assert page.locator('[data-role="find-count"]').text_content() == "1/2"
    page.keyboard.press("Enter")
    assert page.locator('[data-role="find-count"]').text_content() == "2/2"
    page.screenshot(path=str(artifacts / "daily-find.png"))
    page.keyboard.press("Escape")
    assert page.locator('[data-role="find"]').is_hidden()


def test_a_long_error_stays_one_line_with_the_whole_message_on_hover(page, tmp_path):
    open_workflow(page, doc([("m", "Math", {"a": 1.0, "b": 0.0, "op": "divide"}, (40, 40)),
                             ("s", "ShowValue", {}, (400, 40))], [("m", "result", "s", "value")]), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="m"][data-status="error"]')
    err = node(page, "m").locator(".fw-error")
    assert "cannot divide by zero" in err.get_attribute("title")
    line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.fw-node[data-node-id=\"m\"] .fw-error')).lineHeight) || 16")
    assert err.bounding_box()["height"] < 2.5 * line + 12


def test_undo_redraws_only_what_changed_and_gets_it_right(page, tmp_path):
    open_workflow(page, two_nodes(7), tmp_path)
    untouched = node(page, "b").element_handle()
    start = node(page, "a").bounding_box()
    x, y = centre(node(page, "a").locator(".fw-title"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 90, y + 130, steps=6)
    page.mouse.up()
    set_value(page, "a", 8)
    focus_canvas(page)
    page.keyboard.press("Control+z")
    assert value_of(page, "a") == "7"
    page.keyboard.press("Control+z")  # the drag: back where it was, and its wire with it
    back = node(page, "a").bounding_box()
    assert abs(back["x"] - start["x"]) < 2 and abs(back["y"] - start["y"]) < 2
    wire_start = page.evaluate("() => document.querySelector('path.fw-wire').getAttribute('d')")
    sx, sy = centre(sock(page, "a", "out", "value"))
    page.keyboard.press("Control+y")
    assert abs(node(page, "a").bounding_box()["y"] - start["y"] - 130) < 2
    assert page.evaluate("() => document.querySelector('path.fw-wire').getAttribute('d')") != wire_start
    assert untouched.evaluate("e => e.isConnected")  # the node that did not change kept its element
    node(page, "a").locator(".fw-title").click()
    page.keyboard.press("Delete")
    assert page.locator("path.fw-wire").count() == 0
    page.keyboard.press("Control+z")
    assert wire(page, "a", "value", "b", "value").count() == 1 and sx > 0 and sy > 0


def test_right_click_menus_on_wire_socket_node_and_canvas(page, tmp_path):
    open_workflow(page, doc([("a", "IntValue", {"value": 2}, (40, 40)), ("b", "ShowValue", {}, (460, 40)),
                             ("c", "ShowValue", {}, (460, 260))],
                            [("a", "value", "b", "value"), ("a", "value", "c", "value")]), tmp_path)
    # a wire: right-click on its stroke, Delete wire
    point = page.evaluate("""() => { const p = document.querySelector('path.fw-wire[data-to="c"]');
        const pt = p.getPointAtLength(p.getTotalLength() / 2), m = p.getScreenCTM();
        return [pt.x * m.a + m.e, pt.y * m.d + m.f]; }""")
    page.mouse.click(point[0], point[1], button="right")
    page.click('[data-role="menu"] [data-menu="delete-wire"]')
    assert wire(page, "a", "value", "c", "value").count() == 0 and wire(page, "a", "value", "b", "value").count() == 1
    # an input socket: Disconnect
    sock(page, "b", "in", "value").click(button="right")
    page.click('[data-role="menu"] [data-menu="disconnect"]')
    assert page.locator("path.fw-wire").count() == 0
    # a node: Bypass, then Collapse through the menu
    node(page, "a").locator(".fw-title").click(button="right")
    items = page.locator('[data-role="menu"] [data-menu]').evaluate_all("els => els.map(e => e.dataset.menu)")
    assert {"rename", "bypass", "mute", "collapse", "color", "group", "duplicate", "delete"} <= set(items)
    page.click('[data-role="menu"] [data-menu="bypass"]')
    assert node(page, "a").get_attribute("data-mode") == "bypass"
    # the canvas: Add node here opens the search at that spot
    stage = page.locator('[data-role="stage"]').bounding_box()
    page.mouse.click(stage["x"] + 300, stage["y"] + stage["height"] - 80, button="right")
    page.click('[data-role="menu"] [data-menu="add-node"]')
    assert page.locator('[data-role="palette"]').is_visible()
    page.keyboard.type("int value")
    page.keyboard.press("Enter")
    assert page.locator('.fw-node[data-node-type="IntValue"]').count() == 2
    # an output socket: add a node fed by it (search filtered by its type), wired
    sock(page, "a", "out", "value").click(button="right")
    page.click('[data-role="menu"] [data-menu="add-fed-node"]')
    assert "INT" in page.locator('[data-role="palette-filter"]').text_content()
    page.keyboard.type("show value")
    page.keyboard.press("Enter")
    assert page.locator('path.fw-wire[data-from="a"]').count() == 1
    page.keyboard.press("Escape")
    assert page.locator('[data-role="menu"]').is_hidden()


# ------------------------------------------------------------------ see results

def test_result_picture_fills_the_node_and_opens_a_lightbox_with_compare(page, tmp_path, artifacts):
    open_workflow(page, doc([("p", "TestPicture", {"width": 64, "height": 64, "seed": 1, "delay": 0.0}, (40, 40)),
                             ("w", "WritePicture", {}, (420, 40))], [("p", "image", "w", "image")]), tmp_path)
    page.click('[data-action="run"]')
    picture = node(page, "w").locator(".fw-image img")
    picture.wait_for()
    page.wait_for_function("() => { const i = document.querySelector('.fw-node[data-node-id=\"w\"] .fw-image img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    node_box, pic_box = node(page, "w").bounding_box(), picture.bounding_box()
    assert pic_box["width"] > 0.8 * node_box["width"]  # not a thumbnail: as wide as the node
    link = node(page, "w").locator(".fw-download").bounding_box()
    assert link["y"] >= pic_box["y"] + pic_box["height"] - 1  # the download link is under the picture, not over it
    first_url = picture.get_attribute("src")
    picture.click()
    box = page.locator('[data-role="lightbox"]')
    assert box.is_visible()
    assert page.locator('[data-role="compare"]').count() == 0  # nothing to compare with yet
    assert page.locator('[data-role="lightbox-zoom"]').text_content() == "100 %"
    size = box.locator(".fw-lightbox-img").bounding_box()["width"]
    page.click('[data-action="lightbox-zoom-in"]')
    assert page.locator('[data-role="lightbox-zoom"]').text_content() == "150 %"
    assert abs(box.locator(".fw-lightbox-img").bounding_box()["width"] - 1.5 * size) < 2
    assert box.locator('[data-action="lightbox-download"]').get_attribute("href") == first_url
    page.keyboard.press("Escape")
    assert box.is_hidden()
    seed = node(page, "p").locator('input[data-widget="seed"]')
    seed.fill("2")
    seed.press("Tab")
    page.click('[data-action="run"]')
    page.wait_for_function("u => { const i = document.querySelector('.fw-node[data-node-id=\"w\"] .fw-image img');"
                           " return i && i.getAttribute('src') !== u; }", arg=first_url)
    node(page, "w").locator(".fw-image img").click()
    slider = page.locator('[data-role="compare"]')
    assert slider.is_visible()
    assert box.locator(".fw-lightbox-before").get_attribute("src") == first_url
    slider.fill("20")
    assert "80%" in box.locator(".fw-lightbox-before").get_attribute("style")
    page.screenshot(path=str(artifacts / "daily-lightbox-compare.png"))


def test_run_history_panel_survives_a_reload_and_loads_a_runs_workflow(page, tmp_path, artifacts):
    open_workflow(page, doc([("p", "TestPicture", {"width": 32, "height": 32, "seed": 1, "delay": 0.0}, (40, 40)),
                             ("w", "WritePicture", {}, (420, 40))], [("p", "image", "w", "image")]), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-root[data-run-status="success"]')
    seed = node(page, "p").locator('input[data-widget="seed"]')
    seed.fill("9")
    seed.press("Tab")
    page.wait_for_timeout(400)  # past the autosave debounce
    page.reload()
    page.wait_for_selector('.fw-root[data-ready="1"]')
    page.click('[data-action="history"]')
    runs = page.locator('[data-role="history"] [data-run]')
    assert runs.count() >= 1
    first = runs.first
    assert first.get_attribute("data-status") == "success"
    assert first.locator(".fw-history-pic").count() == 1
    page.wait_for_function("() => { const i = document.querySelector('[data-role=\"history\"] .fw-history-pic');"
                           " return i && i.complete && i.naturalWidth === 32; }")
    page.screenshot(path=str(artifacts / "daily-run-history.png"))
    assert node(page, "p").locator('input[data-widget="seed"]').input_value() == "9"
    first.locator('[data-action="load-run"]').click()
    assert node(page, "p").locator('input[data-widget="seed"]').input_value() == "1"  # the workflow as it ran
    focus_canvas(page)
    page.keyboard.press("Control+z")
    assert node(page, "p").locator('input[data-widget="seed"]').input_value() == "9"


def test_run_history_keeps_each_runs_workflow_apart_and_only_for_the_runs_it_lists(page, tmp_path):
    """Recording a run reads and writes a small list and the one run's document (not every kept run's), and
    the documents of runs that fall off the list are gone from storage."""
    page.evaluate("() => localStorage.clear()")
    open_workflow(page, doc([("a", "IntValue", {"value": 0}, (40, 40)), ("s", "ShowValue", {}, (420, 40))],
                            [("a", "value", "s", "value")]), tmp_path)
    value = node(page, "a").locator('input[data-widget="value"]')
    for k in range(22):  # two more than the history keeps
        value.fill(str(k))
        value.press("Tab")
        page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
        page.click('[data-action="run"]')
        page.wait_for_selector('.fw-root[data-run-status="success"]')
    stored = page.evaluate("""() => Object.fromEntries(Object.keys(localStorage)
        .filter((k) => k.startsWith('fluxwire:history:')).map((k) => [k, localStorage.getItem(k)]))""")
    (list_key,) = [k for k in stored if ":run:" not in k]
    runs = json.loads(stored[list_key])
    assert len(runs) == 20 and all("workflow" not in r and r["has_workflow"] for r in runs)
    docs = {k.rsplit(":run:", 1)[1]: json.loads(v) for k, v in stored.items() if ":run:" in k}
    assert set(docs) == {r["run_id"] for r in runs}  # the two oldest runs' documents were dropped with them
    newest, oldest_kept = runs[0], runs[-1]
    assert [n["widgets"]["value"] for n in docs[newest["run_id"]]["nodes"] if n["id"] == "a"] == [21]
    assert [n["widgets"]["value"] for n in docs[oldest_kept["run_id"]]["nodes"] if n["id"] == "a"] == [2]
    page.click('[data-action="history"]')
    page.locator(f'[data-role="history"] [data-run="{oldest_kept["run_id"]}"] [data-action="load-run"]').click()
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "2"


def test_runs_of_an_unchanged_document_share_its_stored_copy(page, tmp_path):
    """A run of the same document as the last recorded one stores no second copy (a 500-node graph's run
    wrote ~150 KB each time); each entry still loads its run's workflow, and the copy stays while any
    listed run names it."""
    page.evaluate("() => localStorage.clear()")
    open_workflow(page, doc([("a", "IntValue", {"value": 5}, (40, 40)), ("s", "ShowValue", {}, (420, 40))],
                            [("a", "value", "s", "value")]), tmp_path)

    def run():
        page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
        page.click('[data-action="run"]')
        page.wait_for_selector('.fw-root[data-run-status="success"]')

    def stored():
        kv = page.evaluate("""() => Object.fromEntries(Object.keys(localStorage)
            .filter((k) => k.startsWith('fluxwire:history:')).map((k) => [k, localStorage.getItem(k)]))""")
        (list_key,) = [k for k in kv if ":run:" not in k]
        return json.loads(kv[list_key]), {k.rsplit(":run:", 1)[1]: json.loads(v) for k, v in kv.items() if ":run:" in k}

    run()
    run()
    runs, docs = stored()
    assert len(runs) == 2 and runs[0]["doc"] == runs[1]["run_id"] and "doc" not in runs[1]
    assert set(docs) == {runs[1]["run_id"]}
    value = node(page, "a").locator('input[data-widget="value"]')
    value.fill("6")
    value.press("Tab")
    run()  # an edited document gets its own copy
    runs, docs = stored()
    assert "doc" not in runs[0] and set(docs) == {runs[0]["run_id"], runs[2]["run_id"]}
    assert [n["widgets"]["value"] for n in docs[runs[0]["run_id"]]["nodes"] if n["id"] == "a"] == [6]
    page.click('[data-action="history"]')
    page.locator(f'[data-role="history"] [data-run="{runs[1]["run_id"]}"] [data-action="load-run"]').click()
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "5"


def test_run_history_still_loads_runs_recorded_with_their_workflow_inline(page, tmp_path):
    """Entries written before the documents moved to keys of their own keep working."""
    old = doc([("a", "IntValue", {"value": 77}, (40, 40))])
    page.evaluate("""(old) => { const key = Object.keys(localStorage).find((k) => k.startsWith('fluxwire:history:'))
        || 'fluxwire:history:' + location.pathname;
        localStorage.setItem(key, JSON.stringify([{run_id: 'old-run', status: 'success', at: Date.now(), images: [],
          workflow: old}])); }""", old)
    page.click('[data-action="history"]')
    page.locator('[data-role="history"] [data-run="old-run"] [data-action="load-run"]').click()
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "77"
