"""A ComfyUI workflow in the real canvas: opened with the Open button, exported with Export ComfyUI
(API prompt) and Export ComfyUI UI (UI workflow)."""
from __future__ import annotations

import json

import pytest


pytestmark = pytest.mark.e2e

COMFY_UI = {
    "last_node_id": 3, "last_link_id": 0, "version": 0.4, "links": [], "groups": [],
    "nodes": [
        {"id": 1, "type": "PrimitiveInt", "title": "steps", "pos": [40, 60], "size": [220, 82], "mode": 0,
         "inputs": [], "outputs": [{"name": "INT", "type": "INT", "links": []}], "widgets_values": [28, "fixed"]},
        {"id": 2, "type": "PrimitiveStringMultiline", "pos": [320, 60], "size": [300, 120], "mode": 0,
         "inputs": [], "outputs": [{"name": "STRING", "type": "STRING", "links": []}],
         "widgets_values": ["a lighthouse at night"]},
        {"id": 3, "type": "MarkdownNote", "pos": [40, 260], "size": [300, 100], "mode": 0, "inputs": [],
         "outputs": [], "widgets_values": ["**read me**"]},
    ],
}


def test_open_a_comfyui_workflow_and_export_it_back(browser, app_url, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_selector('.fw-root[data-ready="1"]')
    path = tmp_path / "from_comfyui.json"
    path.write_text(json.dumps(COMFY_UI))
    with page.expect_file_chooser() as chooser:
        page.click('[data-action="open"]')
    chooser.value.set_files(str(path))
    page.wait_for_selector('.fw-node[data-node-id="3"]')
    ids = page.eval_on_selector_all(".fw-node", "els => els.map(e => e.dataset.nodeId)")
    assert sorted(ids) == ["1", "2", "3"]
    assert page.locator('.fw-node[data-node-id="1"] input[data-widget="value"]').input_value() == "28"
    assert "steps" in page.locator('.fw-node[data-node-id="1"] .fw-title-text').text_content()
    with page.expect_download() as download:
        page.click('[data-action="export-comfyui"]')
    prompt = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert prompt == {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 28}, "_meta": {"title": "steps"}},
                      "2": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a lighthouse at night"},
                            "_meta": {"title": "PrimitiveStringMultiline"}}}
    with page.expect_download() as download:
        page.click('[data-action="export-comfyui-ui"]')
    workflow = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert download.value.suggested_filename.endswith(".comfyui.json") and workflow["version"] == 0.4
    assert [(n["id"], n["type"]) for n in workflow["nodes"]] == [
        (1, "PrimitiveInt"), (2, "PrimitiveStringMultiline"), (3, "MarkdownNote")]  # the note stays in a UI file
    context.close()
    assert errors == []
