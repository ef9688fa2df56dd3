"""Items of issue 17 found untested in the audit, checked in a real browser on the real app: the node search
also finds nodes by category and by description (ranked after name matches), and the live sampler preview of a
node without a size is shown as wide as the node (large enough to judge)."""
from __future__ import annotations

import pytest

from .canvas_helpers import canvas_page, launch_app
from .test_canvas_e2e import doc, node, open_workflow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app_url(browser, module_executor, tmp_path_factory):
    demo, url = launch_app(module_executor, workflows_dir=tmp_path_factory.mktemp("user_workflows"))
    yield url
    demo.close()


@pytest.fixture
def page(browser, app_url):
    with canvas_page(browser, app_url) as pg:
        yield pg


def search(page, text):
    page.fill(".fw-palette-search", text)
    return page.locator(".fw-palette-item").evaluate_all("els => els.map(e => e.dataset.nodeType)")


def test_search_finds_nodes_by_category_and_by_description(page, module_executor, tmp_path):
    open_workflow(page, doc([("x", "IntValue", {}, (40, 40))]), tmp_path)
    described = [d for d in module_executor.registry.describe() if "subgraph" not in d]
    page.click('[data-action="palette"]')
    # every node of the category "mask", the ones with "mask" in their name first
    in_category = {d["type"] for d in described if d["category"] == "mask"}
    named = {d["type"] for d in described if "mask" in (d["display_name"] + " " + d["type"]).lower()}
    assert len(in_category - named) >= 1  # the category alone must find some
    found = search(page, "mask")
    assert in_category <= set(found)
    last_named = max(found.index(t) for t in named if t in found)
    assert all(found.index(t) > last_named for t in in_category - named)
    # a word only SlowSteps' description has ("Counts up with a pause ...")
    assert "pause" in described[[d["type"] for d in described].index("SlowSteps")]["description"]
    assert "SlowSteps" in search(page, "pause")
    assert search(page, "pause watch stop")[0] == "SlowSteps"  # every word of the query in the description


def test_the_live_preview_of_a_node_without_a_size_is_as_wide_as_the_node(page, tmp_path):
    open_workflow(page, doc([("s", "SlowSteps", {"steps": 6, "delay": 0.4}, (40, 40)), ("v", "ShowValue", {}, (420, 40))],
                            [("s", "count", "v", "value")]), tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-id="s"] img.fw-preview[src^="data:image/"]:not([hidden])')
    box, shown = node(page, "s").bounding_box(), node(page, "s").locator("img.fw-preview").bounding_box()
    natural = node(page, "s").locator("img.fw-preview").evaluate("e => [e.naturalWidth, e.naturalHeight]")
    assert shown["width"] > 0.85 * box["width"] and shown["width"] > 2 * natural[0]  # a 64 px preview, shown large
    assert abs(shown["width"] / shown["height"] - natural[0] / natural[1]) < 0.05
    assert shown["y"] + shown["height"] <= box["y"] + box["height"]
    page.click('[data-action="stop"]')
