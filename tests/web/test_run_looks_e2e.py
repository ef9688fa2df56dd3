"""A run's badge and progress bar on nodes far from the view wait until the node comes into view (run.js
showNodeState): data-status and the other hooks stay exact at once. Real server, real Chromium."""
from __future__ import annotations

import pytest

from .canvas_helpers import canvas_page, launch_app
from .test_canvas_e2e import doc, node, open_workflow

pytestmark = pytest.mark.e2e

FAR_X, FAR_Y = 3000, 2400  # outside the stage (~1400x700) at zoom 1 looking at (0, 0); inside it after Fit


@pytest.fixture(scope="module")
def app(browser, module_executor):
    demo, url = launch_app(module_executor)
    yield demo, url
    demo.close()


def near_and_far(title="looks"):
    graph = doc([("a", "IntValue", {"value": 4}, (0, 0)), ("s", "ShowValue", {}, (420, 0)),
                 ("fa", "IntValue", {"value": 7}, (FAR_X, FAR_Y)), ("fs", "ShowValue", {}, (FAR_X + 420, FAR_Y))],
                [("a", "value", "s", "value"), ("fa", "value", "fs", "value")], title=title)
    graph["extra"] = {"view": {"x": 0, "y": 0, "zoom": 1}}
    return graph


def badge(page, node_id):
    return node(page, node_id).locator(".fw-badge").text_content()


def test_a_far_node_shows_its_badge_once_it_comes_into_view(browser, app, tmp_path):
    with canvas_page(browser, app[1]) as page:
        open_workflow(page, near_and_far(), tmp_path)
        page.click('[data-action="run"]')
        page.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
        # exact at once everywhere: the status and the value shown
        assert node(page, "fs").get_attribute("data-status") == "done"
        assert node(page, "fs").locator(".fw-text").text_content() == "7"
        # the node in view gets its time badge and a full bar at the next frames
        page.wait_for_function("() => /s$/.test(document.querySelector('.fw-node[data-node-id=\"s\"] .fw-badge').textContent)")
        assert node(page, "s").locator(".fw-progress-bar").bounding_box()["width"] > 0
        # the far node's badge is not laid out while it is far away...
        page.wait_for_timeout(300)
        assert badge(page, "fs") == ""
        # ...and shows as soon as Fit brings it into view
        page.click('[data-action="fit"]')
        page.wait_for_function("() => /s$/.test(document.querySelector('.fw-node[data-node-id=\"fs\"] .fw-badge').textContent)")
        assert node(page, "fs").locator(".fw-progress-bar").bounding_box()["width"] > 0
        # a second run while all are in view: the badges of the cached value nodes follow at once
        page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
        page.click('[data-action="run"]')
        page.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
        for node_id in ("a", "fa"):  # the value nodes come from the cache (the viewers always run)
            page.wait_for_function("id => document.querySelector(`.fw-node[data-node-id=\"${id}\"] .fw-badge`)"
                                   ".textContent === 'cached'", arg=node_id)
            assert node(page, node_id).get_attribute("data-status") == "cached"

def test_a_far_node_of_an_inactive_tab_comes_back_with_its_badge(browser, app, tmp_path):
    with canvas_page(browser, app[1]) as page:
        open_workflow(page, near_and_far("tabbed"), tmp_path)
        page.click('[data-action="run"]')
        page.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
        page.wait_for_timeout(300)
        assert badge(page, "fs") == ""
        # another tab, then back: the kept page's far node shows its state when brought into view
        page.keyboard.press("Alt+T")
        page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 0")
        page.keyboard.press("Alt+PageUp")
        page.wait_for_function("() => document.querySelectorAll('.fw-node').length === 4")
        assert node(page, "fs").get_attribute("data-status") == "done"
        page.click('[data-action="fit"]')
        page.wait_for_function("() => /s$/.test(document.querySelector('.fw-node[data-node-id=\"fs\"] .fw-badge').textContent)")
