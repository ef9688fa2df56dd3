"""The app mounted under a sub-path of another web app: every URL the canvas uses must be relative."""
from __future__ import annotations

import json
import threading
import time

import pytest

from .canvas_helpers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mounted_url(browser, module_executor):
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    from web.app import build_app

    outer = FastAPI()

    @outer.get("/")
    def home():
        return {"app": "someone else's"}

    demo = build_app(module_executor)
    demo.queue(default_concurrency_limit=1)
    app = gr.mount_gradio_app(outer, demo, path="/tools/fluxwire")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/tools/fluxwire/"
    server.should_exit = True
    thread.join(10)


def test_canvas_runs_and_shows_images_under_a_sub_path(browser, mounted_url, tmp_path):
    page = browser.new_context(viewport={"width": 1300, "height": 850}).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # the browser asks the *outer* app for /favicon.ico, which it does not have: not the canvas's doing
    page.on("console", lambda m: errors.append(f"{m.text} @ {m.location}") if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico") else None)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if "/tools/fluxwire/" not in r.url
            and not r.url.startswith(("data:", "blob:")) else None)
    page.goto(mounted_url)
    page.wait_for_selector('.fw-root[data-ready="1"]', timeout=20_000)
    graph = {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "sub-path"},
             "nodes": [{"id": "p", "type": "TestPicture", "widgets": {"width": 50, "height": 40, "delay": 0.0},
                        "ui": {"pos": [0, 0]}},
                       {"id": "w", "type": "WritePicture", "widgets": {}, "ui": {"pos": [400, 0]}}],
             "links": [{"from": "p", "output": "image", "to": "w", "input": "image"}]}
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(graph))
    with page.expect_file_chooser() as fc:
        page.click('[data-action="open"]')
    fc.value.set_files(str(path))
    page.wait_for_selector('.fw-node[data-node-id="w"]')
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-root[data-run-status="success"]')
    page.wait_for_function("() => { const i = document.querySelector('.fw-node[data-node-id=\"w\"] .fw-images img');"
                           " return i && i.complete && i.naturalWidth === 50; }")
    href = page.locator('.fw-node[data-node-id="w"] a.fw-download').get_attribute("href")
    assert "/tools/fluxwire/" in href
    page.context.close()
    assert missing == []
    assert errors == []
    assert [u for u in outside if "favicon" not in u] == []
