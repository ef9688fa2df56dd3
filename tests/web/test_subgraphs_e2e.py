"""Subgraphs in a real browser: make one from a selection, run it, open it and edit inside, come back by the
breadcrumb, save it to the library, add it from the palette, and unpack it — checked on the page and against
what the server computed and what the saved document holds."""
from __future__ import annotations

import json

import pytest

from .canvas_helpers import launch_app
from .test_canvas_e2e import doc, drag, node, open_workflow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("library")


@pytest.fixture(scope="module")
def app_url(browser, registry, tmp_path_factory, library_dir):
    from flux_core.graph.executor import Executor

    folder = tmp_path_factory.mktemp("subgraph-run")
    executor = Executor(registry, output_dir=folder / "output", models_dir=folder / "models",
                        input_dir=folder / "input", library_dir=library_dir)
    demo, url = launch_app(executor)
    yield url
    demo.close()


def click_title(page, node_id, modifiers=None):
    page.locator(f'.fw-node[data-node-id="{node_id}"] .fw-title-text').click(modifiers=modifiers or [])


def run_and_wait(page):
    page.evaluate("document.querySelector('.fw-root').dataset.runStatus = ''")  # forget the previous run
    page.click('[data-action="run"]')
    page.wait_for_function("['success', 'error', 'invalid'].includes("
                           "document.querySelector('.fw-root').dataset.runStatus)")
    assert page.locator(".fw-root").get_attribute("data-run-status") == "success"


def saved_document(page, tmp_path, name="saved.json"):
    with page.expect_download() as dl:
        page.click('[data-action="save"]')
    path = tmp_path / name
    dl.value.save_as(path)
    return json.loads(path.read_text())


def test_make_run_open_edit_save_unpack(page, tmp_path, library_dir, artifacts):
    open_workflow(page, doc([("f", "FloatValue", {"value": 3}, (0, 0)),
                             ("m", "Math", {"b": 4, "op": "add"}, (320, 0)),
                             ("steps", "SlowSteps", {"steps": 3, "delay": 0.8}, (320, 300)),
                             ("s", "ShowValue", {}, (680, 0)), ("c", "ShowValue", {}, (680, 300))],
                            [("f", "value", "m", "a"), ("m", "result", "s", "value"),
                             ("steps", "count", "c", "value")]), tmp_path)
    # select the Math and the slow counter, make a subgraph: the crossing links become its sockets
    click_title(page, "m")
    click_title(page, "steps", ["Shift"])
    page.click('[data-action="make-subgraph"]')
    dialog = page.locator('[data-role="dialog"]')
    dialog.wait_for(state="visible")
    dialog.locator('[data-field="subgraph-name"]').fill("Add and count")
    dialog.locator('[data-subgraph-input="0"]').fill("x")  # renamed from "a"
    dialog.locator('[data-promote="m.b"]').check()
    dialog.locator('[data-promote-name="m.b"]').fill("offset")
    dialog.locator('[data-promote="steps.delay"]').check()
    page.click('[data-action="subgraph-create"]')
    instance = page.locator('.fw-node[data-node-type="Subgraph"]')
    assert instance.count() == 1
    iid = instance.get_attribute("data-node-id")
    assert not page.locator('.fw-node[data-node-id="m"]').count()
    names = instance.locator("[data-socket-name]").evaluate_all(
        "els => els.map(e => e.dataset.socketDir + ':' + e.dataset.socketName).sort()")
    assert names == ["in:delay", "in:offset", "in:x", "out:count", "out:result"]
    assert instance.locator('input[data-widget="offset"]').input_value() == "4"
    assert page.locator(f'path.fw-wire[data-from="f"][data-to="{iid}"][data-input="x"]').count() == 1
    assert page.locator(f'path.fw-wire[data-from="{iid}"][data-output="result"][data-to="s"]').count() == 1

    # a promoted widget edited on the instance; the run shows inner progress on the instance itself
    offset = instance.locator('input[data-widget="offset"]')
    offset.fill("10")
    offset.press("Tab")
    page.click('[data-action="run"]')
    page.wait_for_selector(f'.fw-node[data-node-id="{iid}"][data-status="running"]')
    page.wait_for_function(f"/^\\d+\\/3$/.test(document.querySelector('.fw-node[data-node-id=\"{iid}\"] .fw-badge')"
                           ".textContent)")
    page.wait_for_function("document.querySelector('.fw-root').dataset.runStatus === 'success'")
    assert node(page, "s").locator(".fw-text").text_content() == "13.0"
    assert node(page, "c").locator(".fw-text").text_content() == "3"
    assert instance.get_attribute("data-status") == "done"
    page.screenshot(path=str(artifacts / "subgraph-instance-run.png"))

    # the saved document holds the definition once and the instance's own values
    saved = saved_document(page, tmp_path)
    assert saved["version"] == 2
    (def_id, definition), = saved["subgraphs"].items()
    inst = next(n for n in saved["nodes"] if n["id"] == iid)
    assert inst["subgraph"] == {"id": def_id} and inst["widgets"]["offset"] == 10
    assert {i["name"] for i in definition["inputs"]} == {"x", "offset", "delay"}

    # open it: the breadcrumb appears, the inside shows the boundary and the inner nodes with their states
    instance.locator('[data-action="open-subgraph"]').click()
    crumbs = page.locator('[data-role="breadcrumb"]')
    crumbs.wait_for(state="visible")
    assert "Add and count" in crumbs.text_content()
    inside = sorted(page.locator(".fw-node").evaluate_all("els => els.map(e => e.dataset.nodeId)"))
    assert inside == ["@inputs", "@outputs", "m", "steps"]
    assert node(page, "m").get_attribute("data-status") == "done"
    assert page.locator('path.fw-wire[data-from="@inputs"][data-output="offset"][data-to="m"][data-input="b"]').count() == 1
    # edit inside: add becomes multiply; rename the output on the boundary
    node(page, "m").locator('select[data-widget="op"]').select_option("multiply")
    rename = node(page, "@outputs").locator('[data-boundary-name="result"]')
    rename.fill("product")
    rename.press("Enter")
    page.wait_for_selector('.fw-node[data-node-id="@outputs"] [data-socket-name="product"]')
    # a wire from the boundary's empty socket to a widget declares a new (promoted) input; x removes one
    drag(page, node(page, "@inputs").locator('[data-socket-dir="out"][data-socket-name="+"]'),
         node(page, "steps").locator('[data-socket-dir="in"][data-socket-name="steps"]'))
    assert page.locator('path.fw-wire[data-from="@inputs"][data-output="steps"][data-to="steps"]').count() == 1
    node(page, "@inputs").locator('[data-action="remove-socket"][data-socket="delay"]').click()
    assert node(page, "@inputs").locator('[data-socket-name="delay"]').count() == 0
    page.screenshot(path=str(artifacts / "subgraph-opened.png"))
    page.locator('[data-action="breadcrumb"][data-level="0"]').click()
    crumbs.wait_for(state="hidden")
    assert page.locator(f'path.fw-wire[data-from="{iid}"][data-output="product"][data-to="s"]').count() == 1
    assert instance.locator('input[data-widget="steps"]').input_value() == "3"  # the inner value as default
    assert instance.locator('[data-socket-name="delay"]').count() == 0
    run_and_wait(page)
    assert node(page, "s").locator(".fw-text").text_content() == "30.0"  # 3 * 10, and "c" came from the cache

    # save to the library: the file appears, and so does a palette entry that can be dropped like any node
    page.locator(f'.fw-node[data-node-id="{iid}"] [data-action="save-library"]').click()
    dialog.wait_for(state="visible")
    dialog.locator('[data-field="library-name"]').fill("mine/add-and-count")
    dialog.locator('[data-field="library-category"]').fill("my pieces")
    page.click('[data-action="library-save"]')
    dialog.wait_for(state="hidden")
    saved_file = library_dir / "mine" / "add-and-count.json"
    assert json.loads(saved_file.read_text())["format"] == "fluxwire.subgraph"
    page.click('[data-action="palette"]')
    page.fill(".fw-palette-search", "add and count")
    page.click('.fw-palette-item[data-library="mine/add-and-count"]')
    dropped = page.locator('.fw-node[data-subgraph="library:mine/add-and-count"]')
    assert dropped.count() == 1
    # a new instance starts from the declared default (4 when made); 10 was the first instance's own value
    assert dropped.locator('input[data-widget="offset"]').input_value() == "4"
    dropped.locator('.fw-title-text').click()
    page.keyboard.press("Delete")

    # unpack: plain nodes again, same result
    page.locator(f'.fw-node[data-node-id="{iid}"] [data-action="unpack-subgraph"]').click()
    assert page.locator('.fw-node[data-node-type="Subgraph"]').count() == 0
    math = page.locator('.fw-node[data-node-type="Math"]')
    assert math.count() == 1 and math.locator('select[data-widget="op"]').input_value() == "multiply"
    assert math.locator('input[data-widget="b"]').input_value() == "10"
    mid = math.get_attribute("data-node-id")
    assert page.locator(f'path.fw-wire[data-from="f"][data-to="{mid}"][data-input="a"]').count() == 1
    run_and_wait(page)
    assert node(page, "s").locator(".fw-text").text_content() == "30.0"
    page.screenshot(path=str(artifacts / "subgraph-unpacked.png"))


def test_an_error_inside_shows_on_the_instance_and_inside(page, tmp_path):
    sub = {"name": "Divide", "inputs": [{"name": "x", "type": "FLOAT"}], "outputs": [{"name": "y", "type": "FLOAT"}],
           "nodes": [{"id": "div", "type": "Math", "widgets": {"b": 0, "op": "divide"}, "ui": {"pos": [0, 0]}}],
           "links": [{"from": "@inputs", "output": "x", "to": "div", "input": "a"},
                     {"from": "div", "output": "result", "to": "@outputs", "input": "y"}]}
    d = doc([("f", "FloatValue", {"value": 1}, (0, 0)), ("s", "ShowValue", {}, (640, 0))])
    d["version"] = 2
    d["subgraphs"] = {"divide": sub}
    d["nodes"].append({"id": "d", "type": "Subgraph", "subgraph": {"id": "divide"}, "widgets": {}, "ui": {"pos": [320, 0]}})
    d["links"] = [{"from": "f", "output": "value", "to": "d", "input": "x"},
                  {"from": "d", "output": "y", "to": "s", "input": "value"}]
    open_workflow(page, d, tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="d"][data-status="error"]')
    assert "d/div" in node(page, "d").locator(".fw-error").text_content()
    assert "divide by zero" in page.locator('[data-role="banner"]').text_content()
    node(page, "d").locator('[data-action="open-subgraph"]').click()
    page.wait_for_selector('.fw-node[data-node-id="div"][data-status="error"]')
    assert "divide by zero" in node(page, "div").locator(".fw-error").text_content()


def shared_document():
    sub = {"name": "Combine", "inputs": [{"name": "x", "type": "FLOAT"}], "outputs": [{"name": "y", "type": "FLOAT"}],
           "nodes": [{"id": "op", "type": "Math", "widgets": {"b": 2, "op": "add"}, "ui": {"pos": [0, 0]}}],
           "links": [{"from": "@inputs", "output": "x", "to": "op", "input": "a"},
                     {"from": "op", "output": "result", "to": "@outputs", "input": "y"}]}
    d = doc([("f", "FloatValue", {"value": 5}, (0, 0)), ("s1", "ShowValue", {}, (640, 0)),
             ("s2", "ShowValue", {}, (640, 300))])
    d["version"] = 2
    d["subgraphs"] = {"combine": sub}
    d["nodes"] += [{"id": "a1", "type": "Subgraph", "subgraph": {"id": "combine"}, "widgets": {}, "ui": {"pos": [320, 0]}},
                   {"id": "a2", "type": "Subgraph", "subgraph": {"id": "combine"}, "widgets": {}, "ui": {"pos": [320, 300]}}]
    d["links"] = [{"from": "f", "output": "value", "to": "a1", "input": "x"},
                  {"from": "f", "output": "value", "to": "a2", "input": "x"},
                  {"from": "a1", "output": "y", "to": "s1", "input": "value"},
                  {"from": "a2", "output": "y", "to": "s2", "input": "value"}]
    return d


def test_editing_inside_a_shared_subgraph_changes_only_that_node_unless_asked(page, tmp_path):
    open_workflow(page, shared_document(), tmp_path)
    node(page, "a1").locator('[data-action="open-subgraph"]').click()
    scope = page.locator('[data-role="edit-scope"]')
    assert scope.input_value() == "one" and "all 2 nodes" in scope.text_content()
    node(page, "op").locator('select[data-widget="op"]').select_option("multiply")
    page.locator('[data-action="breadcrumb"][data-level="0"]').click()
    run_and_wait(page)
    assert node(page, "s1").locator(".fw-text").text_content() == "10.0"  # 5 * 2: a1 got its own copy
    assert node(page, "s2").locator(".fw-text").text_content() == "7.0"  # 5 + 2: a2 untouched
    saved = saved_document(page, tmp_path)
    assert sorted(saved["subgraphs"]) == ["combine", "combine-2"]
    # asked for: one edit reaches every node using the subgraph
    node(page, "a2").locator('[data-action="open-subgraph"]').click()
    assert page.locator('[data-role="edit-scope"]').count() == 0  # "combine" has one user now
    page.locator('[data-action="breadcrumb"][data-level="0"]').click()
    d = shared_document()
    open_workflow(page, d, tmp_path, name="again.json")
    node(page, "a2").locator('[data-action="open-subgraph"]').click()
    page.locator('[data-role="edit-scope"]').select_option("all")
    b = node(page, "op").locator('input[data-widget="b"]')
    b.fill("3")
    b.press("Tab")
    page.locator('[data-action="breadcrumb"][data-level="0"]').click()
    run_and_wait(page)
    assert node(page, "s1").locator(".fw-text").text_content() == "8.0"
    assert node(page, "s2").locator(".fw-text").text_content() == "8.0"
