"""The canvas's queue panel: another client's API jobs listed, this tab's run marked, cancel, clear."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.api.conftest import QUICK, SLOW

from .canvas_helpers import free_port

pytestmark = pytest.mark.e2e


def status_of(http, job_id) -> str:
    return http.get(f"/api/jobs/{job_id}").json()["status"]


def test_queue_panel_lists_every_clients_jobs_marks_its_own_and_cancels_and_clears(browser, executor):
    import gradio as gr

    from web.app import serve

    _, url, _ = serve("127.0.0.1", free_port(), executor=executor, block=False)
    base = url.rstrip("/")
    other = httpx.Client(base_url=base, headers={"X-Fluxwire-Client": "other-app"}, timeout=30)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        slow = other.post("/api/jobs", json={"workflow": SLOW}).json()["id"]  # holds the executor
        waiting = [other.post("/api/jobs", json={"workflow": QUICK, "overrides": {"v.value": v}}).json()["id"]
                   for v in (1, 2, 3)]
        page.goto(url)
        page.wait_for_selector('.fw-root[data-ready="1"]')
        page.click('[data-action="queue"]')
        rows = '[data-role="queue"] .fw-queue-job'
        page.wait_for_function(f"() => document.querySelectorAll('{rows}').length === 4")
        assert page.locator(f'{rows}[data-status="running"]').get_attribute("data-job") == slow
        assert [page.locator(f'{rows}[data-status="waiting"]').nth(i).get_attribute("data-job")
                for i in range(3)] == waiting
        assert page.locator(f'{rows}[data-mine="1"]').count() == 0  # nothing here is this tab's

        # cancel one of the other client's waiting jobs from the panel
        page.click(f'{rows}[data-job="{waiting[0]}"] [data-action="queue-cancel"]')
        page.wait_for_function(f"() => !document.querySelector('{rows}[data-job=\"{waiting[0]}\"]')")
        assert status_of(other, waiting[0]) == "cancelled"

        # this tab runs a graph: it waits behind the others and is marked as its own
        for query in ("int value", "show value"):
            page.click('[data-action="palette"]')
            page.fill(".fw-palette-search", query)
            page.keyboard.press("Enter")
        src = page.locator('.fw-node[data-node-type="IntValue"] [data-socket-dir="out"]').bounding_box()
        dst = page.locator('.fw-node[data-node-type="ShowValue"] [data-socket-dir="in"]').bounding_box()
        page.mouse.move(src["x"] + 6, src["y"] + 6)
        page.mouse.down()
        page.mouse.move(dst["x"] + 6, dst["y"] + 6, steps=10)
        page.mouse.up()
        page.click('[data-action="run"]')
        page.wait_for_selector(f'{rows}[data-mine="1"][data-status="waiting"]', timeout=20000)
        mine = page.locator(f'{rows}[data-mine="1"]').get_attribute("data-job")
        assert mine not in waiting and mine != slow

        # "Clear mine" cancels only this tab's run; "Clear all" the other client's waiting jobs
        page.click('[data-action="queue-clear-mine"]')
        page.wait_for_function(f"() => !document.querySelector('{rows}[data-mine=\"1\"]')")
        assert [status_of(other, j) for j in waiting[1:]] == ["queued", "queued"]
        page.click('[data-action="queue-clear-all"]')
        page.wait_for_function(f"() => document.querySelectorAll('{rows}[data-status=\"waiting\"]').length === 0")
        assert [status_of(other, j) for j in waiting[1:]] == ["cancelled", "cancelled"]
        assert status_of(other, slow) == "running"  # a clear leaves the running job alone
        page.click(f'{rows}[data-job="{slow}"] [data-action="queue-cancel"]')
        deadline = time.monotonic() + 20
        while status_of(other, slow) != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status_of(other, slow) == "cancelled"
        page.wait_for_selector('[data-role="queue"] :text("the queue is empty")')
        assert errors == []
    finally:
        page.context.close()
        other.close()
        gr.close_all()


def test_off_loopback_the_panel_asks_for_the_api_token_and_then_shows_the_queue(browser, executor):
    import gradio as gr

    from web.app import serve

    port = free_port()
    _, url, _ = serve("127.0.0.2", port, executor=executor, block=False, api_token="s3cret-token")
    base = f"http://127.0.0.2:{port}"
    other = httpx.Client(base_url=base, headers={"Authorization": "Bearer s3cret-token"}, timeout=30)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        slow = other.post("/api/jobs", json={"workflow": SLOW}).json()["id"]
        page.goto(base + "/")
        page.wait_for_selector('.fw-root[data-ready="1"]')
        page.click('[data-action="queue"]')
        page.wait_for_selector('[data-field="queue-token"]')  # refused without the token: it asks
        assert page.locator('[data-role="queue"] .fw-queue-job').count() == 0
        page.fill('[data-field="queue-token"]', "wrong")
        page.click('[data-action="queue-token"]')
        page.wait_for_selector('[data-role="queue"] :text("that token was refused")')
        page.fill('[data-field="queue-token"]', "s3cret-token")
        page.click('[data-action="queue-token"]')
        page.wait_for_selector(f'[data-role="queue"] .fw-queue-job[data-job="{slow}"]')
        page.click(f'[data-job="{slow}"] [data-action="queue-cancel"]')
        deadline = time.monotonic() + 20
        while status_of(other, slow) != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status_of(other, slow) == "cancelled"
    finally:
        page.context.close()
        other.close()
        gr.close_all()
