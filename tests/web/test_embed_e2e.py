"""The canvas embedded in someone else's Blocks, exactly as docs/canvas.md shows it."""
from __future__ import annotations

import pytest

from .canvas_helpers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def embed_url(browser, module_executor):
    import gradio as gr

    from web.canvas import NodeCanvas, empty_document

    with gr.Blocks() as demo:
        gr.Markdown("# Someone else's app")
        canvas = NodeCanvas(empty_document("embedded"), executor=module_executor, elem_id="my-canvas")
        gallery = gr.Gallery(format="png")
        canvas.wire(gallery)
        count = gr.Number(label="nodes", elem_id="count")
        canvas.change(lambda doc: len(doc["nodes"]), canvas, count)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def test_embedded_canvas_reports_edits_and_runs(browser, embed_url):
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(embed_url)
    page.wait_for_selector('#my-canvas .fw-root[data-ready="1"]')
    assert page.locator(".fw-node").count() == 0
    for query in ("int value", "show value"):
        page.click('[data-action="palette"]')
        page.fill(".fw-palette-search", query)
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#count input').value === '2'")
    src = page.locator('.fw-node[data-node-type="IntValue"] [data-socket-dir="out"]').bounding_box()
    dst = page.locator('.fw-node[data-node-type="ShowValue"] [data-socket-dir="in"]').bounding_box()
    page.mouse.move(src["x"] + 6, src["y"] + 6)
    page.mouse.down()
    page.mouse.move(dst["x"] + 6, dst["y"] + 6, steps=10)
    page.mouse.up()
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-node[data-node-type="ShowValue"][data-status="done"]')
    assert page.locator('.fw-node[data-node-type="ShowValue"] .fw-text').text_content() == "0"
    page.context.close()
    assert errors == []
