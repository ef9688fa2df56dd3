"""A ComfyUI file opened in the real canvas shows the widget sockets the user had in ComfyUI: converted
widgets of a file from a frontend before 1.16 are sockets (linked or not); a file saved by frontend 1.27
shows only linked ones (here the seed, fed by a PrimitiveNode whose value fluxwire puts into the widget)."""
from __future__ import annotations

import json

import pytest

from tests.interop.test_comfyui_widget_sockets import new_frontend_saved, old_frontend

from .canvas_helpers import canvas_page, sent
from .test_canvas_e2e import node

pytestmark = pytest.mark.e2e


def open_comfyui(page, data: dict, tmp_path, name: str) -> None:
    """Open a ComfyUI file with the Open button; wait until its nodes are drawn (Reroute node 10 and
    PrimitiveNode 13 are no fluxwire nodes)."""
    path = tmp_path / name
    path.write_text(json.dumps(data))
    with page.expect_file_chooser() as chooser:
        page.click('[data-action="open"]')
    chooser.value.set_files(str(path))
    ids = sorted(str(n["id"]) for n in data["nodes"] if n["id"] not in (10, 13))
    page.wait_for_function("ids => JSON.stringify([...document.querySelectorAll('.fw-node')]"
                           ".map(n => n.dataset.nodeId).sort()) === JSON.stringify(ids)", arg=ids)


def shown_as_socket(page, node_id: str, name: str) -> bool:
    row = node(page, node_id).locator(f'.fw-row-in[data-input="{name}"]')
    socket = row.get_attribute("data-widget-input") == "1"
    assert socket == (row.locator(f'[data-widget="{name}"]').count() == 0)  # a socket has no widget to edit
    return socket


def test_converted_widgets_open_as_sockets(browser, app_url, tmp_path, artifacts):
    with canvas_page(browser, app_url) as page:
        open_comfyui(page, old_frontend(), tmp_path, "old_frontend.json")
        assert shown_as_socket(page, "5", "text") and shown_as_socket(page, "14", "width")
        assert shown_as_socket(page, "12", "seed")
        assert not shown_as_socket(page, "14", "height") and not shown_as_socket(page, "6", "guidance")
        hint = node(page, "14").locator('.fw-row-in[data-input="width"] .fw-hint').text_content()
        assert "64" in hint  # the widget's value still counts until a wire feeds it
        by_id = {n["id"]: n for n in sent(page)["nodes"]}
        assert by_id["5"]["ui"]["widget_inputs"] == ["text"]
        page.screenshot(path=str(artifacts / "comfyui-widget-sockets-old.png"))

        open_comfyui(page, new_frontend_saved(), tmp_path, "new_frontend.json")
        page.wait_for_function("() => !document.querySelector("
                               "'.fw-node[data-node-id=\"5\"] .fw-row-in[data-input=\"text\"][data-widget-input]')")
        assert not shown_as_socket(page, "5", "text") and not shown_as_socket(page, "14", "width")
        assert shown_as_socket(page, "12", "seed")
