"""Switching tabs keeps each tab's page elements (web/static/tab_pages.js), in real Chromium against the real app.

An element identity (a JS property put on a node element and a wire) tells whether a switch moved the tab's
own elements back in or built new ones; every check on what the page shows also reads what the canvas sends
to Python, so a kept element that edits a stale document fails too.
"""
from __future__ import annotations

import pytest

from .canvas_helpers import sent
from .test_canvas_e2e import doc, node, open_workflow

pytestmark = pytest.mark.e2e

TABS = '[data-role="tabs"] [data-tab]'


def switch_to(page, index):
    page.locator(TABS).nth(index).locator('[data-action="switch-tab"]').click()
    page.wait_for_function("i => document.querySelectorAll('[data-role=\"tabs\"] [data-tab]')[i].dataset.active === '1'",
                           arg=index)


def mark(page, selector, label):
    """Put a JS property on the element: only that very element has it."""
    page.locator(selector).evaluate("(e, label) => { e.__fwMark = label; }", label)


def marked(page, selector):
    return page.locator(selector).evaluate("e => e.__fwMark || null")


def tab_page(page):
    return page.locator(".fw-root").get_attribute("data-tab-page")


def focus_canvas(page):
    page.locator('[data-role="stage"]').click(position={"x": 8, "y": 8})


def widgets_doc(title):
    return doc([("w", "EveryWidget", {"count": 3}, (40, 40)), ("s", "ShowValue", {}, (420, 40))],
               [("w", "summary", "s", "value")], title=title)


def test_a_switch_back_shows_the_same_elements_and_they_edit_that_tabs_document(page, tmp_path, artifacts):
    open_workflow(page, widgets_doc("first"), tmp_path, name="first.json")
    mark(page, '.fw-node[data-node-id="w"]', "first-w")
    wire_sel = 'path.fw-wire[data-from="w"][data-to="s"]'
    mark(page, wire_sel, "first-wire")
    page.click('[data-action="new-tab"]')
    open_workflow(page, doc([("w", "IntValue", {"value": 1}, (40, 300))], title="second"), tmp_path, name="second.json")
    # only the shown tab's elements are in the page: the data-* hooks never see the other tab's nodes
    assert page.locator(".fw-node").count() == 1
    assert page.locator(".fw-wire").count() == 0
    assert marked(page, '.fw-node[data-node-id="w"]') is None
    mark(page, '.fw-node[data-node-id="w"]', "second-w")
    for _ in range(2):
        switch_to(page, 0)
        assert marked(page, '.fw-node[data-node-id="w"]') == "first-w"  # moved back in, not built again
        assert tab_page(page) == "kept"
        assert marked(page, wire_sel) == "first-wire"
        assert page.locator(".fw-node").count() == 2
        switch_to(page, 1)
        assert marked(page, '.fw-node[data-node-id="w"]') == "second-w"
        assert page.locator(".fw-node").count() == 1
    switch_to(page, 0)
    # the kept widgets edit this tab's document, also those that hold their node (the seed's mode switch)
    w = node(page, "w")
    w.locator('input[data-widget="count"]').fill("7")
    w.locator('input[data-widget="count"]').press("Tab")
    w.locator('select[data-widget="seed.mode"]').select_option("increment")
    document = sent(page)
    assert document["metadata"]["title"] == "first"
    first_w = next(n for n in document["nodes"] if n["id"] == "w")
    assert first_w["widgets"]["count"] == 7
    assert first_w["properties"]["seed_modes"] == {"seed": "increment"}
    # undo works on the kept elements: only the changed node is drawn again
    focus_canvas(page)
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert w.locator('input[data-widget="count"]').input_value() == "3"
    assert "seed_modes" not in (next(n for n in sent(page)["nodes"] if n["id"] == "w").get("properties") or {})
    assert marked(page, wire_sel) == "first-wire"
    # find, the properties panel and the minimap work on the kept elements
    page.keyboard.press("Control+f")
    page.keyboard.type("ShowValue")
    page.wait_for_selector('.fw-node[data-node-id="s"][data-found="1"]')
    assert page.locator('[data-role="find-count"]').text_content() == "1/1"
    page.keyboard.press("Escape")
    page.click('[data-action="minimap"]')
    page.wait_for_selector('[data-role="minimap"][data-nodes="2"]')
    node(page, "w").locator(".fw-title").click()
    page.click('[data-action="properties"]')
    page.wait_for_selector('[data-role="properties"][data-node-id="w"]')
    page.screenshot(path=str(artifacts / "tab-pages-kept.png"))
    page.click('[data-action="close-properties"]')
    # the other tab shows its own node to the minimap, and no found mark or selection came along
    switch_to(page, 1)
    page.wait_for_selector('[data-role="minimap"][data-nodes="1"]')
    switch_to(page, 0)
    assert page.locator('[data-found="1"]').count() == 0
    assert page.locator('.fw-node[data-selected="1"]').count() == 0


def test_an_inactive_tabs_run_lands_on_its_own_kept_elements_only(page, tmp_path):
    open_workflow(page, doc([("steps", "SlowSteps", {"steps": 5, "delay": 0.5}, (40, 40)), ("c", "ShowValue", {}, (420, 40))],
                            [("steps", "count", "c", "value")], title="slow"), tmp_path, name="slow.json")
    mark(page, '.fw-node[data-node-id="c"]', "slow-c")
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="steps"][data-status="running"]')
    # the other tab has nodes with the same ids, and edits of its own while the first tab's run goes on
    page.click('[data-action="new-tab"]')
    open_workflow(page, doc([("steps", "IntValue", {"value": 1}, (40, 40)), ("c", "ShowValue", {}, (420, 40))],
                            [("steps", "value", "c", "value")], title="other"), tmp_path, name="other.json")
    mark(page, '.fw-node[data-node-id="c"]', "other-c")
    box = node(page, "steps").locator('input[data-widget="value"]')
    box.fill("42")
    box.press("Tab")
    page.wait_for_function("() => document.querySelector('[data-role=\"status\"]').textContent.includes('ended: success')")
    assert node(page, "c").get_attribute("data-status") == "idle"
    assert node(page, "c").locator(".fw-text").is_hidden()
    assert marked(page, '.fw-node[data-node-id="c"]') == "other-c"
    switch_to(page, 0)
    page.wait_for_selector('.fw-node[data-node-id="c"][data-status="done"]')
    assert marked(page, '.fw-node[data-node-id="c"]') == "slow-c"  # the run's result landed on the kept element
    assert node(page, "c").locator(".fw-text").text_content() == "5"
    assert [n["type"] for n in sent(page)["nodes"]] == ["SlowSteps", "ShowValue"]  # the other tab's edit stayed there
    switch_to(page, 1)
    assert marked(page, '.fw-node[data-node-id="c"]') == "other-c"
    assert node(page, "c").get_attribute("data-status") == "idle"
    assert node(page, "steps").locator('input[data-widget="value"]').input_value() == "42"
    assert next(n for n in sent(page)["nodes"] if n["id"] == "steps")["widgets"]["value"] == 42


def test_only_recent_tabs_keep_elements_and_closed_or_stale_ones_are_built(page, tmp_path):
    open_workflow(page, doc([("a", "IntValue", {"value": 9}, (40, 40))], title="oldest"), tmp_path, name="oldest.json")
    mark(page, '.fw-node[data-node-id="a"]', "oldest")
    for k in range(5):  # five newer tabs: the oldest is the fifth inactive one, past the four kept
        page.click('[data-action="new-tab"]')
        open_workflow(page, doc([("a", "IntValue", {"value": k}, (40, 40))], title=f"tab {k}"), tmp_path, name=f"t{k}.json")
        mark(page, '.fw-node[data-node-id="a"]', f"tab {k}")
    switch_to(page, 0)
    assert tab_page(page) == "built"
    assert marked(page, '.fw-node[data-node-id="a"]') is None
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "9"
    switch_to(page, 5)  # the tab left most recently: kept
    assert tab_page(page) == "kept"
    assert marked(page, '.fw-node[data-node-id="a"]') == "tab 4"
    # a new node list (the catalogue read again) makes every kept element stale: built from the document
    page.click('[data-action="refresh"]')
    page.wait_for_function("() => document.querySelector('[data-role=\"status\"]').textContent.includes('re-read')")
    switch_to(page, 4)
    assert tab_page(page) == "built"
    assert marked(page, '.fw-node[data-node-id="a"]') is None
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "3"
    mark(page, '.fw-node[data-node-id="a"]', "tab 3 rebuilt")
    # closing inactive tabs
    page.locator(TABS).nth(1).locator('[data-action="close-tab"]').click()
    page.locator(TABS).nth(1).locator('[data-action="close-tab"]').click()
    assert page.locator(TABS).count() == 4  # oldest, tab 2, tab 3 (shown), tab 4
    switch_to(page, 0)
    assert tab_page(page) == "built"
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "9"
    mark(page, '.fw-node[data-node-id="a"]', "oldest rebuilt")
    # closing the shown tab shows its neighbour, with the elements it left
    switch_to(page, 3)
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "4"
    page.locator(TABS).nth(3).locator('[data-action="close-tab"]').click()
    assert page.locator(TABS).count() == 3
    assert page.locator(TABS).nth(2).get_attribute("data-active") == "1"
    assert tab_page(page) == "kept"
    assert marked(page, '.fw-node[data-node-id="a"]') == "tab 3 rebuilt"
    assert node(page, "a").locator('input[data-widget="value"]').input_value() == "3"
    assert page.locator(".fw-node").count() == 1
    switch_to(page, 0)
    assert marked(page, '.fw-node[data-node-id="a"]') == "oldest rebuilt"
