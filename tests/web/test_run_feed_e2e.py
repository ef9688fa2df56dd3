"""The page follows its runs on its own feed (web/run_feed.py, run_feed.js): real server, real Chromium."""
from __future__ import annotations

import json
import threading
import time

import pytest

from .canvas_helpers import canvas_page, launch_app
from .test_canvas_e2e import doc, node, open_workflow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(browser, module_executor):
    demo, url = launch_app(module_executor)
    yield demo, url
    demo.close()


@pytest.fixture
def delivered(app):
    """Every message the server hands to a page's feed during the test: [(key, message)]."""
    feeds = app[0].fluxwire_canvas.run_feeds
    seen, lock = [], threading.Lock()
    plain = feeds.publish

    def recording(key, delta, whole, ended=None):
        ok = plain(key, delta, whole, ended)
        if ok:
            with lock:
                seen.append((key, json.loads(delta)))
        return ok

    feeds.publish = recording
    yield seen
    feeds.publish = plain


PICTURE = doc([("p", "TestPicture", {"width": 96, "height": 64, "delay": 0.3}, (0, 0)),
               ("w", "WritePicture", {"prefix": "feed"}, (420, 0)),
               ("a", "IntValue", {"value": 5}, (0, 300)), ("s", "ShowValue", {}, (420, 300))],
              [("p", "image", "w", "image"), ("a", "value", "s", "value")])


def test_a_run_arrives_on_the_pages_feed_with_its_final_images_and_gallery(browser, app, delivered, tmp_path):
    with canvas_page(browser, app[1]) as page:
        page.wait_for_selector('.fw-root[data-run-feed="1"]')
        open_workflow(page, PICTURE, tmp_path)
        joins = []
        asks = []  # the page's requests for the gallery (show_results: event data with the run id)
        page.on("request", lambda r: joins.append(r.post_data_json) if "/queue/join" in r.url else None)
        page.on("request", lambda r: asks.append(r.post_data_json) if r.method == "POST" and r.post_data
                and '"run_id"' in r.post_data else None)
        page.click('[data-action="run"]')
        page.wait_for_selector('.fw-node[data-node-id="p"][data-status="running"]')
        page.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
        page.wait_for_function("() => { const i = document.querySelector('.fw-node[data-node-id=\"w\"] .fw-images img');"
                               " return i && i.complete && i.naturalWidth === 96; }")
        assert node(page, "s").locator(".fw-text").text_content() == "5"
        page.locator("#fluxwire-gallery img").first.wait_for()  # the gallery still comes through Gradio
        assert len(asks) == 1  # the gallery was asked once, when the run ended
    # the run's event carries the document as text and takes no component's value: Gradio's page copies
    # nothing of the canvas for it (web/canvas.py wire, run_page)
    (join,) = [j for j in joins if j and j.get("event_data") and "workflow" in j["event_data"]]
    assert join["data"] == []
    sent = json.loads(join["event_data"]["workflow"])
    assert [n["id"] for n in sent["nodes"]] == [n["id"] for n in PICTURE["nodes"]]
    assert join["event_data"]["feed"] in {key for key, _ in delivered}
    keys = {key for key, _ in delivered}
    assert len(keys) == 1  # one page, one key
    messages = [m for _, m in delivered]
    assert len({m["run_id"] for m in messages}) == 1
    assert messages[-1]["status"] == "success"
    assert messages[-1]["nodes"]["w"]["images"][0]["name"].startswith("feed-w-")
    # states are deltas: a node that did not change since the last message is not sent again
    sent_again = [m for m in messages[1:] if "a" in m["nodes"]]
    assert len(sent_again) <= 1 and len(messages) >= 2


def test_the_gallery_is_asked_for_a_runs_pictures_only_when_they_change(browser, app, tmp_path):
    """The run event has no outputs: the page asks show_results for the gallery when a run ends, and not again
    for a run whose pictures are the ones the gallery shows (Gradio would redraw it for nothing)."""
    with canvas_page(browser, app[1]) as page:
        page.wait_for_selector('.fw-root[data-run-feed="1"]')
        asks = []  # show_results requests: event data with the run id
        page.on("request", lambda r: asks.append(r.post_data_json) if r.method == "POST" and r.post_data
                and '"run_id"' in r.post_data else None)

        def run():
            page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
            page.click('[data-action="run"]')
            page.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
            page.wait_for_timeout(300)

        open_workflow(page, PICTURE, tmp_path)
        run()
        page.locator("#fluxwire-gallery img").first.wait_for()
        run()  # WritePicture writes a new file each run: asked again
        assert len(asks) == 2
        open_workflow(page, doc([("a", "IntValue", {"value": 2}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                                [("a", "value", "s", "value")]), tmp_path, "values.json")
        run()  # no pictures: the gallery is emptied once...
        page.wait_for_function("() => !document.querySelector('#fluxwire-gallery img')")
        run()  # ...and not redrawn for the next run without pictures
        assert len(asks) == 3


def test_only_the_page_that_ran_gets_the_run(browser, app, delivered, tmp_path):
    graph = doc([("slow", "SlowSteps", {"steps": 6, "delay": 0.1}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                [("slow", "count", "s", "value")])
    with canvas_page(browser, app[1]) as mine, canvas_page(browser, app[1]) as other:
        for pg, name in ((mine, "mine.json"), (other, "other.json")):
            pg.wait_for_selector('.fw-root[data-run-feed="1"]')
            open_workflow(pg, graph, tmp_path, name)
        mine.click('[data-action="run"]')
        mine.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
        assert mine.locator('.fw-node[data-node-id="s"] .fw-text').text_content() == "6"
        other.wait_for_timeout(300)
        assert other.locator(".fw-node").evaluate_all("els => els.map(e => e.dataset.status)") == ["idle", "idle"]
        assert other.locator(".fw-root").get_attribute("data-run-status") is None
        first_keys = {key for key, _ in delivered}
        assert len(first_keys) == 1
        other.click('[data-action="run"]')  # the other page's run goes to its own key only
        other.wait_for_selector('.fw-root[data-run-status="success"]', timeout=30_000)
        second = [(key, m["run_id"]) for key, m in delivered if key not in first_keys]
        assert second and {run for _, run in second}.isdisjoint({m["run_id"] for k, m in delivered if k in first_keys})


def test_closing_the_page_stops_its_run(browser, app, tmp_path):
    long_run = doc([("slow", "SlowSteps", {"steps": 200, "delay": 0.1}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                   [("slow", "count", "s", "value")])
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.goto(app[1])
    page.wait_for_selector('.fw-root[data-run-feed="1"]')
    open_workflow(page, long_run, tmp_path)
    page.click('[data-action="run"]')
    page.wait_for_function("() => document.querySelector('.fw-node[data-node-id=\"slow\"] .fw-badge')"
                           ".textContent.includes('/200')")
    context.close()  # the page goes away 20 s before its run would end
    closed = time.monotonic()
    quick = doc([("a", "IntValue", {"value": 3}, (0, 0)), ("s", "ShowValue", {}, (420, 0))],
                [("a", "value", "s", "value")])
    with canvas_page(browser, app[1]) as later:
        open_workflow(later, quick, tmp_path, "quick.json")
        later.click('[data-action="run"]')  # one run at a time: this one waits until the closed page's run stopped
        later.wait_for_selector('.fw-root[data-run-status="success"]', timeout=15_000)
        assert later.locator('.fw-node[data-node-id="s"] .fw-text').text_content() == "3"
    assert time.monotonic() - closed < 12
