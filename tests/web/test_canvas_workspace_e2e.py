"""The canvas as a workspace (issue 17): tabs, the properties panel, widget <-> input, pin, help, node resize
and size widgets that follow the model, in real Chromium against the real app.

Every check reads what the page shows and what the canvas sends to Python (the autosave holds the same
document), and runs go through the real executor.
"""
from __future__ import annotations

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import centre, doc, drag, node, open_workflow, sock, wire

pytestmark = pytest.mark.e2e



def doc_node(document, node_id):
    return next(n for n in document["nodes"] if n["id"] == node_id)


def set_value(page, node_id, value, widget="value"):
    box = node(page, node_id).locator(f'input[data-widget="{widget}"]')
    box.fill(str(value))
    box.press("Tab")


def node_menu(page, node_id, item):
    node(page, node_id).locator(".fw-title").click(button="right")
    page.click(f'[data-role="menu"] [data-menu="{item}"]')


def tab_titles(page):
    return page.locator('[data-role="tabs"] .fw-tab-label').all_text_contents()


def focus_canvas(page):
    page.locator('[data-role="stage"]').click(position={"x": 8, "y": 8})


def two_nodes(value, title):
    return doc([("a", "IntValue", {"value": value}, (40, 40)), ("b", "ShowValue", {}, (420, 60))],
               [("a", "value", "b", "value")], title=title)


# ------------------------------------------------------------------ tabs

def test_tabs_keep_their_own_document_undo_and_run_and_all_come_back_after_reload(page, tmp_path, artifacts):
    open_workflow(page, two_nodes(7, "first"), tmp_path, name="first.json")
    set_value(page, "a", 8)
    zoom = page.locator('[data-role="zoom-level"]')
    first_zoom = zoom.text_content()
    page.click('[data-action="new-tab"]')
    assert page.locator('[data-role="tabs"] [data-tab]').count() == 2
    assert page.locator(".fw-node").count() == 0  # a new tab starts empty
    open_workflow(page, two_nodes(3, "second"), tmp_path, name="second.json")
    set_value(page, "a", 4)
    page.click('[data-action="zoom-in"]')
    page.click('[data-action="zoom-in"]')
    second_zoom = zoom.text_content()
    assert second_zoom != first_zoom
    # Run runs the active tab's document, and its result shows in that tab only
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="b"][data-status="done"]')
    assert node(page, "b").locator(".fw-text").text_content() == "4"
    assert sent(page)["metadata"]["title"] == "second"
    page.locator('[data-role="tabs"] [data-tab] .fw-tab-label').first.click()
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "8"
    assert node(page, "b").get_attribute("data-status") == "idle"  # the other tab's run is not shown here
    assert zoom.text_content() == first_zoom  # each tab keeps its own view
    assert sent(page)["metadata"]["title"] == "first"  # what Python receives follows the active tab
    # each tab has its own undo history
    focus_canvas(page)
    page.keyboard.press("Control+z")
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "7"
    page.keyboard.press("Control+y")
    page.screenshot(path=str(artifacts / "workspace-tabs.png"))
    page.wait_for_timeout(400)
    page.reload()
    page.wait_for_selector('.fw-root[data-ready="1"]')
    assert page.locator('[data-role="tabs"] [data-tab]').count() == 2
    assert page.locator('[data-role="tabs"] [data-tab]').first.get_attribute("data-active") == "1"
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "8"
    page.locator('[data-role="tabs"] [data-tab] .fw-tab-label').nth(1).click()
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "4"
    assert zoom.text_content() == second_zoom
    focus_canvas(page)
    page.keyboard.press("Control+z")  # the inactive tab's undo history came back too
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "3"
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="b"][data-status="done"]')
    assert node(page, "b").locator(".fw-text").text_content() == "3"


def test_a_run_shows_in_the_tab_that_started_it(page, tmp_path):
    open_workflow(page, doc([("steps", "SlowSteps", {"steps": 5, "delay": 0.6}, (40, 40)), ("c", "ShowValue", {}, (420, 40))],
                            [("steps", "count", "c", "value")], title="slow"), tmp_path, name="slow.json")
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="steps"][data-status="running"]')
    # the other tab has nodes with the same ids: the run's updates must not land on them
    page.click('[data-action="new-tab"]')
    open_workflow(page, doc([("steps", "IntValue", {"value": 1}, (40, 40)), ("c", "ShowValue", {}, (420, 40))],
                            [("steps", "value", "c", "value")], title="other"), tmp_path, name="other.json")
    page.wait_for_function("() => document.querySelector('[data-role=\"status\"]').textContent.includes('ended: success')")
    assert node(page, "steps").get_attribute("data-status") == "idle"
    assert node(page, "c").locator(".fw-text").is_hidden()
    assert sent(page)["metadata"]["title"] == "other"
    page.locator('[data-role="tabs"] [data-tab] .fw-tab-label').first.click()
    page.wait_for_selector('.fw-node[data-node-id="c"][data-status="done"]')
    assert node(page, "c").locator(".fw-text").text_content() == "5"


def test_closing_a_tab_with_unsaved_changes_asks_first(page, tmp_path):
    open_workflow(page, two_nodes(1, "keep"), tmp_path)
    set_value(page, "a", 2)  # a change not saved anywhere
    page.click('[data-action="new-tab"]')
    page.locator('[data-role="tabs"] [data-tab] .fw-tab-label').first.click()
    assert page.locator('[data-role="tabs"] [data-tab]').first.get_attribute("data-dirty") == "1"
    page.answer = False
    page.locator('[data-role="tabs"] [data-tab]').first.locator('[data-action="close-tab"]').click()
    assert [t for t, _ in page.dialogs] == ["confirm"] and "keep" in page.dialogs[0][1]
    assert page.locator('[data-role="tabs"] [data-tab]').count() == 2  # refused: still open
    assert node(page, "a").count() == 1
    # a clean tab closes without a question
    page.locator('[data-role="tabs"] [data-tab]').nth(1).locator('[data-action="close-tab"]').click()
    assert page.locator('[data-role="tabs"] [data-tab]').count() == 1
    assert len(page.dialogs) == 1
    page.answer = True
    page.locator('[data-role="tabs"] [data-tab] [data-action="close-tab"]').click()
    assert len(page.dialogs) == 2
    assert page.locator('[data-role="tabs"] [data-tab]').count() == 1  # the last tab gives way to an empty one
    assert page.locator(".fw-node").count() == 0
    assert sent(page)["nodes"] == []


def test_open_a_saved_workflow_into_a_new_tab(page, tmp_path):
    open_workflow(page, two_nodes(11, "stored"), tmp_path)
    page.click('[data-action="save-as"]')
    page.fill('[data-field="workflow-name"]', "stored-one")
    page.click('[data-action="save-as-confirm"]')
    page.wait_for_selector('[data-role="doc-name"][data-dirty="0"]')
    page.click('[data-action="new"]')
    assert page.locator(".fw-node").count() == 0
    page.click('[data-action="workflows"]')
    page.locator('[data-workflow="stored-one"] [data-action="open-workflow-tab"]').click()
    page.wait_for_selector('.fw-node[data-node-id="a"]')
    assert page.locator('[data-role="tabs"] [data-tab]').count() == 2
    assert tab_titles(page)[1] == "stored-one"
    assert page.locator('[data-role="tabs"] [data-tab]').nth(1).get_attribute("data-active") == "1"
    assert page.locator('[data-action="undo"]').is_disabled()  # the new tab's history starts here


def test_copy_in_one_tab_paste_in_another(page, tmp_path, artifacts):
    open_workflow(page, doc([("a", "IntValue", {"value": 5}, (40, 40)), ("m", "Math", {"b": 2.0, "op": "multiply"}, (340, 40)),
                             ("b", "ShowValue", {}, (660, 60))],
                            [("a", "value", "m", "a"), ("m", "result", "b", "value")], title="source"), tmp_path)
    focus_canvas(page)
    node(page, "m").locator(".fw-title").click()
    node(page, "b").locator(".fw-title").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    # the other tab has a node with the same id as the copied nodes' outside source ("a")
    page.click('[data-action="new-tab"]')
    open_workflow(page, doc([("a", "StringValue", {"value": "not a number"}, (40, 300))], title="target"), tmp_path,
                  name="target.json")
    focus_canvas(page)
    page.mouse.move(*centre(page.locator('[data-role="stage"]')))
    page.keyboard.press("Control+Shift+v")
    page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 3")
    document = sent(page)
    assert sorted(n["type"] for n in document["nodes"]) == ["Math", "ShowValue", "StringValue"]
    copy_m = next(n for n in document["nodes"] if n["type"] == "Math")
    copy_b = next(n for n in document["nodes"] if n["type"] == "ShowValue")
    assert copy_m["widgets"] == {"b": 2.0, "op": "multiply"}
    # the link between the pasted nodes comes along; the one from the other tab's "a" does not
    assert document["links"] == [{"from": copy_m["id"], "output": "result", "to": copy_b["id"], "input": "value"}]
    assert wire(page, copy_m["id"], "result", copy_b["id"], "value").count() == 1
    page.screenshot(path=str(artifacts / "workspace-paste-across-tabs.png"))
    # back in the first tab, Ctrl+Shift+V keeps the link from the outside source, which is there
    page.locator('[data-role="tabs"] [data-tab] .fw-tab-label').first.click()
    focus_canvas(page)
    page.mouse.move(*centre(page.locator('[data-role="stage"]')))
    page.keyboard.press("Control+Shift+v")
    page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 5")
    document = sent(page)
    new_math = [n["id"] for n in document["nodes"] if n["type"] == "Math" and n["id"] != "m"]
    assert {"from": "a", "output": "value", "to": new_math[0], "input": "a"} in document["links"]


# ------------------------------------------------------------------ properties panel

def test_properties_panel_shows_and_edits_the_selected_node(page, tmp_path, module_executor, artifacts):
    open_workflow(page, doc([("p", "TestPicture", {"width": 40, "height": 24, "delay": 0.0}, (40, 40)),
                             ("w", "WritePicture", {"prefix": "props"}, (420, 40))],
                            [("p", "image", "w", "image")], title="props"), tmp_path)
    node_menu(page, "p", "properties")
    panel = page.locator('[data-role="properties"]')
    panel.wait_for()
    described = {d["type"]: d for d in module_executor.registry.describe(module_executor.env)}
    assert panel.locator('[data-prop-section="description"] .fw-help-description').text_content() == \
        described["TestPicture"]["description"]
    # every widget of the node, editable here with the node's rules
    names = panel.locator('[data-prop-section="widgets"] [data-widget]').evaluate_all(
        "els => els.map(e => e.dataset.widget)")
    assert set(names) >= {i["name"] for i in described["TestPicture"]["inputs"] if i["widget"]}
    box = panel.locator('[data-prop-section="widgets"] input[data-widget="width"]')
    box.fill("56")
    box.press("Tab")
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"p\"] input[data-widget=\"width\"]').value === '56'")
    assert doc_node(sent(page), "p")["widgets"]["width"] == 56
    # the writer's inputs name their type and where they come from
    node(page, "w").locator(".fw-title").click()
    row = panel.locator('[data-prop-section="inputs"] [data-input="image"]')
    assert row.locator(".fw-props-type").text_content() == "IMAGE"
    assert "[p].image" in row.locator(".fw-props-source").text_content()
    assert panel.locator('[data-prop-section="timing"]').get_attribute("data-status") == "idle"
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="w"][data-status="done"]')
    page.wait_for_selector('[data-prop-section="timing"][data-status="done"]')
    assert " s" in panel.locator('[data-prop-section="timing"]').text_content()
    img = panel.locator('[data-prop-section="preview"] img')
    img.wait_for()
    assert img.get_attribute("src") == node(page, "w").locator(".fw-image img").get_attribute("src")
    page.wait_for_function("() => document.querySelector('[data-prop-section=\"preview\"] img').naturalWidth > 0")
    assert img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [56, 24]
    page.screenshot(path=str(artifacts / "workspace-properties.png"))


# ------------------------------------------------------------------ widget <-> input

def test_convert_a_widget_to_an_input_and_back(page, tmp_path, artifacts):
    open_workflow(page, doc([("a", "IntValue", {"value": 6}, (40, 200)), ("m", "Math", {"a": 1.0, "b": 10.0, "op": "add"}, (360, 40)),
                             ("s", "ShowValue", {}, (700, 40))], [("m", "result", "s", "value")], title="convert"), tmp_path)
    sock(page, "m", "in", "b").click(button="right")
    page.click('[data-menu="widget-to-input"]')
    row = node(page, "m").locator('.fw-row-in[data-input="b"]')
    assert row.get_attribute("data-widget-input") == "1"
    assert row.locator('[data-widget="b"]').count() == 0  # no widget: a socket waiting for a wire
    assert doc_node(sent(page), "m")["ui"]["widget_inputs"] == ["b"]
    drag(page, sock(page, "a", "out", "value"), sock(page, "m", "in", "b"))
    assert wire(page, "a", "value", "m", "b").count() == 1
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="s"][data-status="done"]')
    assert float(node(page, "s").locator(".fw-text").text_content()) == 7.0  # 1 + the wired 6
    page.screenshot(path=str(artifacts / "workspace-widget-input.png"))
    sock(page, "m", "in", "b").click(button="right")
    page.click('[data-menu="widget-back"]')
    assert wire(page, "a", "value", "m", "b").count() == 0  # back to a widget: its value counts again
    assert node(page, "m").locator('input[data-widget="b"]').input_value() == "10"
    document = sent(page)
    assert "widget_inputs" not in doc_node(document, "m")["ui"]
    assert not any(l["to"] == "m" and l["input"] == "b" for l in document["links"])
    page.click('[data-action="run"]')
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"s\"] .fw-text').textContent === '11.0'")
    focus_canvas(page)
    page.keyboard.press("Control+z")  # one undo step brings the input and its wire back
    assert wire(page, "a", "value", "m", "b").count() == 1
    assert node(page, "m").locator('.fw-row-in[data-input="b"]').get_attribute("data-widget-input") == "1"


# ------------------------------------------------------------------ pin, help, resize

def test_pin_keeps_a_node_in_place_and_help_describes_it(page, tmp_path, module_executor, artifacts):
    open_workflow(page, two_nodes(2, "pin"), tmp_path)
    node_menu(page, "a", "pin")
    assert node(page, "a").get_attribute("data-pinned") == "1"
    assert node(page, "a").locator('[data-role="node-resize"]').count() == 0
    before = doc_node(sent(page), "a")
    assert before["ui"]["pinned"] is True
    x, y = centre(node(page, "a").locator(".fw-title"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y + 90, steps=8)
    page.mouse.up()
    assert doc_node(sent(page), "a")["ui"]["pos"] == before["ui"]["pos"]
    node_menu(page, "a", "pin")  # unpin: it moves again
    assert node(page, "a").get_attribute("data-pinned") is None
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y + 90, steps=8)
    page.mouse.up()
    assert doc_node(sent(page), "a")["ui"]["pos"] != before["ui"]["pos"]
    node_menu(page, "b", "help")
    help_box = page.locator('[data-role="help"]')
    described = {d["type"]: d for d in module_executor.registry.describe(module_executor.env)}["ShowValue"]
    assert help_box.get_attribute("data-node-type") == "ShowValue"
    assert help_box.locator(".fw-help-description").text_content() == described["description"]
    assert help_box.locator('[data-help="inputs"] li').evaluate_all("els => els.map(e => e.dataset.socketName)") == \
        [i["name"] for i in described["inputs"]]
    assert help_box.locator('[data-help="inputs"] li').first.locator(".fw-help-socket-type").text_content().strip() \
        .startswith(described["inputs"][0]["type"])
    page.screenshot(path=str(artifacts / "workspace-help.png"))


def test_resize_a_node_by_its_corner(page, tmp_path, artifacts):
    open_workflow(page, doc([("p", "TestPicture", {"width": 64, "height": 64, "delay": 0.0}, (40, 40)),
                             ("w", "WritePicture", {"prefix": "resize"}, (420, 40))],
                            [("p", "image", "w", "image")], title="resize"), tmp_path)
    page.click('[data-action="zoom-reset"]')
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="w"] .fw-image img')
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"w\"] .fw-image img').naturalWidth > 0")
    w0 = node(page, "w").bounding_box()
    pic0 = node(page, "w").locator(".fw-image img").bounding_box()
    grip = node(page, "w").locator('[data-role="node-resize"]')
    gx, gy = centre(grip)
    page.mouse.move(gx, gy)
    page.mouse.down()
    page.mouse.move(gx + 200, gy + 120, steps=10)
    page.mouse.up()
    size = doc_node(sent(page), "w")["ui"]["size"]
    w1 = node(page, "w").bounding_box()
    assert abs(size[0] - w0["width"] - 200) < 4 and abs(size[1] - w0["height"] - 120) < 4
    assert abs(w1["width"] - size[0]) < 2 and abs(w1["height"] - size[1]) < 2  # the picture fits in, not past it
    pic1 = node(page, "w").locator(".fw-image img").bounding_box()
    assert pic1["width"] > pic0["width"] + 100  # the picture grows with the node (square: as far as the height allows)
    assert pic1["y"] + pic1["height"] <= w1["y"] + w1["height"] and pic1["x"] + pic1["width"] <= w1["x"] + w1["width"]
    page.screenshot(path=str(artifacts / "workspace-resized.png"))
    page.reload()
    page.wait_for_selector('.fw-root[data-ready="1"]')
    assert node(page, "w").evaluate("e => [e.offsetWidth, parseFloat(e.style.minHeight)]") == size  # zoom aside
    focus_canvas(page)
    page.keyboard.press("Control+z")
    assert "size" not in doc_node(sent(page), "w")["ui"]


# ------------------------------------------------------------------ size defaults follow the model

def write_tiny_transformer(path, guidance):
    """A real FLUX transformer file of the real key layout (tiny widths), no metadata."""
    from safetensors.torch import save_file

    from tests.loading.loading_fixtures import tiny_flux

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tiny_flux(guidance=guidance).state_dict().items()}, str(path))


def add_from_palette(page, query):
    page.click('[data-action="palette"]')
    page.fill(".fw-palette-search", query)
    page.keyboard.press("Enter")


def test_a_new_empty_latent_takes_the_native_size_of_the_model_in_the_graph(page, tmp_path, module_executor):
    import shutil

    from flux_core.model_folders import resolve

    models = module_executor.env.models_dir / "diffusion_models"
    # the names say the opposite of what the files hold: the decision must come from the files
    write_tiny_transformer(models / "flux-mini-lookalike.safetensors", guidance=True)
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy(resolve("diffusion_models", "flux-mini.safetensors", None), models / "flux1-dev-renamed.safetensors")
    page.click('[data-action="refresh"]')
    page.wait_for_function("() => document.querySelector('[data-role=\"status\"]').textContent.includes('re-read')")

    def latent_size_with(model_name):
        open_workflow(page, doc([("model", "LoadDiffusionModel", {"model_name": model_name, "weight_dtype": "default"},
                                  (40, 40))], title="sizes"), tmp_path, name=f"{model_name}.json")
        add_from_palette(page, "empty latent")
        page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 2")
        latent = next(n for n in sent(page)["nodes"] if n["type"] == "EmptyLatent")
        shown = node(page, latent["id"])
        assert shown.locator('input[data-widget="width"]').input_value() == str(latent["widgets"]["width"])
        return latent["widgets"]["width"], latent["widgets"]["height"]

    assert latent_size_with("flux-mini.safetensors") == (64, 64)
    assert latent_size_with("flux1-dev-renamed.safetensors") == (64, 64)
    assert latent_size_with("flux-mini-lookalike.safetensors") == (1024, 1024)
    page.click('[data-action="new"]')
    add_from_palette(page, "empty latent")  # no loader in the graph: the node's own default
    page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 1")
    latent = sent(page)["nodes"][0]
    assert (latent["widgets"]["width"], latent["widgets"]["height"]) == (1024, 1024)
    # a model picked in the loader after the latent was added is followed by the next size widget added
    open_workflow(page, doc([("model", "LoadDiffusionModel", {"model_name": "flux-mini-lookalike.safetensors",
                                                              "weight_dtype": "default"}, (40, 40))], title="x"),
                  tmp_path, name="switch.json")
    node(page, "model").locator('select[data-widget="model_name"]').select_option("flux-mini.safetensors")
    add_from_palette(page, "test picture")
    page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 2")
    picture = next(n for n in sent(page)["nodes"] if n["type"] == "TestPicture")
    assert (picture["widgets"]["width"], picture["widgets"]["height"]) == (64, 64)
